/* kube_exec: client-go's exec credential plugins (kubeconfig `users[].user.exec`).
 *
 * Managed clusters hand out short-lived tokens through a helper program (aws eks get-token,
 * gke-gcloud-auth-plugin, kubelogin, ...). The plugin is run with the kubeconfig's arguments and
 * environment plus KUBERNETES_EXEC_INFO, stdin from /dev/null (we are never interactive), its
 * stderr inherited (where it explains a failed login), and must print an ExecCredential of the
 * requested apiVersion whose status carries a token. Only tokens are supported: a plugin that
 * answers with a client certificate is refused with a clear error.
 *
 * Error texts name the command and what was wrong but never contain the plugin's output (it is
 * a credential). Thread-safe: kube_exec_run() keeps no state. */
#ifndef KUBE_EXEC_H
#define KUBE_EXEC_H

#include <stddef.h>
#include <stdint.h>

struct kube_error;

struct kube_exec_config {
    char *command;      /* program; resolved via PATH unless it contains a '/' */
    char **args;        /* n_args arguments after the program name */
    size_t n_args;
    char **env;         /* n_env "NAME=VALUE" entries added to (or replacing in) our environment */
    size_t n_env;
    char *api_version;  /* client.authentication.k8s.io/v1 or .../v1beta1 */
    int provide_cluster_info; /* pass the cluster (server, CA) in KUBERNETES_EXEC_INFO */
};

/* Deep copy of src into a new *ret, freed with kube_exec_config_free(). -ENOMEM. */
int kube_exec_config_dup(const struct kube_exec_config *src, struct kube_exec_config **ret);
/* Frees a config made by the kubeconfig loader or kube_exec_config_dup(). Accepts NULL. */
void kube_exec_config_free(struct kube_exec_config *x);

/* Runs the plugin once. cluster_json (may be NULL) is the ExecCredential spec.cluster object
 * text, used when provide_cluster_info is set. timeout_ms bounds the whole run (the plugin is
 * killed when it passes). On success *ret_token is a malloc'ed token (a secret: wipe before
 * free) and *ret_expiry_ms the wall-clock expiry in ms, or 0 when the plugin gave none.
 * Errors: -ENOENT (program not found), -ETIMEDOUT, -EPROTO (exit status != 0, or output that is
 * not a valid ExecCredential), -EOPNOTSUPP (client certificate credentials), -E2BIG (output over
 * 1 MiB), -ENOMEM, other -errno from process creation. */
int kube_exec_run(const struct kube_exec_config *x, const char *cluster_json, int64_t timeout_ms,
                  char **ret_token, int64_t *ret_expiry_ms, struct kube_error *err);

#endif
