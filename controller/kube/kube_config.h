/* kube_config: where the API server is and how to authenticate to it.
 *
 * Two sources, like client-go's clientcmd and rest.InClusterConfig:
 *  - a kubeconfig file (YAML, parsed with libyaml): the current-context (or a named context)
 *    selects a cluster (server, certificate-authority[-data], insecure-skip-tls-verify) and a
 *    user (token, tokenFile, client-certificate[-data], client-key[-data], or an exec credential
 *    plugin, see kube_exec.h). Relative file paths are resolved against the directory of the
 *    kubeconfig that names them, as kubectl does; a colon-separated KUBECONFIG is merged the
 *    way kubectl merges it.
 *  - in-cluster: <base>/token, <base>/ca.crt, <base>/namespace with
 *    base = /var/run/secrets/kubernetes.io/serviceaccount (overridable for tests) and the server
 *    from KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT.
 * The token file is NOT read here: the client re-reads it whenever it changes (bound service
 * account tokens rotate), see kube_token.h. TLS verification is on unless the kubeconfig says
 * insecure-skip-tls-verify: true.
 *
 * A loaded config is immutable and may be read from any thread. Error texts name files, line
 * numbers and keys but never contain token or key material. */
#ifndef KUBE_CONFIG_H
#define KUBE_CONFIG_H

#include <stddef.h>

struct kube_error;
struct kube_exec_config;

#define KUBE_IN_CLUSTER_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_config {
    char *server;           /* "https://host:port" (no trailing slash); never NULL */
    char *context;          /* context name used, or NULL for in-cluster */
    char *namespace;        /* context namespace / in-cluster namespace; "default" if unset */
    char *ca_file;          /* CA bundle path, or NULL */
    char *ca_data;          /* PEM CA bundle (already base64-decoded), ca_data_len bytes, or NULL */
    size_t ca_data_len;
    int insecure_skip_tls_verify; /* 1: do not verify the server certificate (never default) */
    char *client_cert_file; /* PEM client certificate path, or NULL */
    char *client_key_file;  /* PEM client key path, or NULL */
    char *client_cert_data; /* PEM client certificate (decoded), client_cert_data_len bytes */
    size_t client_cert_data_len;
    char *client_key_data;  /* PEM client key (decoded), client_key_data_len bytes; secret */
    size_t client_key_data_len;
    char *token;            /* static bearer token, or NULL; secret */
    char *token_file;       /* bearer token file re-read on change, or NULL */
    struct kube_exec_config *exec; /* exec credential plugin, or NULL */
};

/* Loads a kubeconfig file. context NULL means the file's current-context.
 * On success *ret_cfg is a new config the caller frees with kube_config_free().
 * Errors: -ENOENT (file missing; message names it), -EINVAL (malformed YAML: message has
 * "line N"; no current-context; unknown context/cluster/user; missing server; bad base64; a
 * malformed exec section), -EOPNOTSUPP (auth-provider; an exec plugin that needs a terminal),
 * -ENOMEM. */
int kube_config_load_file(const char *path, const char *context, struct kube_config **ret_cfg,
                          struct kube_error *err);
/* Parses kubeconfig text (n bytes, need not be NUL-terminated); dir resolves relative paths
 * (NULL: the current directory). Same contract as kube_config_load_file(). */
int kube_config_load_data(const char *text, size_t n, const char *dir, const char *context,
                          struct kube_config **ret_cfg, struct kube_error *err);
/* In-cluster config from base_dir (NULL: KUBE_IN_CLUSTER_DIR) and the
 * KUBERNETES_SERVICE_HOST/PORT environment (IPv6 hosts are bracketed). The token is used via
 * token_file so rotations are seen. Errors: -ENOENT when the environment variables or the token
 * file are missing (i.e. not running in a cluster), -ENOMEM. */
int kube_config_load_in_cluster(const char *base_dir, struct kube_config **ret_cfg,
                                struct kube_error *err);
/* The usual lookup order of a program's --kubeconfig flag:
 *   explicit_path if not NULL; else $KUBECONFIG (a colon-separated list is merged like
 *   kubectl: files that do not exist are skipped, the first file to name a cluster, user or
 *   context or to set current-context wins); else in-cluster when KUBERNETES_SERVICE_HOST is
 *   set; else $HOME/.kube/config.
 * context as in kube_config_load_file(). Same errors as the loader that was chosen. */
int kube_config_load_default(const char *explicit_path, const char *context,
                             struct kube_config **ret_cfg, struct kube_error *err);
/* Frees a config (secrets are wiped before free). Accepts NULL. */
void kube_config_free(struct kube_config *cfg);

#endif
