/* host_vars: the variables OS profile templates are rendered with, computed from the Host, its
 * Cluster, the Cluster's Network and ContainerManager (pure; unit-tested).
 *
 * A JSON object of objects, addressed by dotted paths in templates ({{ node.name }}):
 *   host.address host.name host.hostname host.os host.osVersion     (strings)
 *   node.name                          the Kubernetes Node name the host registers as
 *   cluster.name                       "" without a cluster
 *   network.name network.type          the cluster's Network; the built-in default (flannel_etcd)
 *   network.options                    the Network's options object as given ({} when none):
 *                                      etcd_endpoints, etcd_prefix, flannel_options, address ...
 *   cm.name cm.type                    the ContainerManager ("" when none; "trivial" included)
 *   cm.server_url cm.ca cm.insecure_skip_tls_verify ("true"/"false")
 *   cm.token cm.client_cert cm.client_key   kubelet credentials: SECRETS
 * A host without a cluster, or whose Cluster names no Network, uses the built-in default
 * network as REF does. The credentials only ever go into files uploaded to the host (the
 * kubelet's kubeconfig); callers must not log the variables and must free them with
 * host_vars_free(), which wipes every string first. */
#ifndef HOST_VARS_H
#define HOST_VARS_H

#include <jansson.h>

struct host_vars_input {
    const json_t *host;      /* required */
    const json_t *cluster;   /* may be NULL */
    const json_t *network;   /* may be NULL: defaults */
    const json_t *cm;        /* may be NULL: no container manager */
    const char *node_name;   /* may be NULL */
    const char *server;      /* API server URL the node should use (CM's, or ours inCluster) */
    const char *ca;          /* PEM CA of that server, may be NULL */
    const char *token;       /* kubelet bearer token, may be NULL (secret) */
    const char *client_cert; /* kubelet client certificate PEM, may be NULL */
    const char *client_key;  /* kubelet client key PEM, may be NULL (secret) */
};

/* Builds a new variables object. Returns NULL on -ENOMEM. */
json_t *host_vars_build(const struct host_vars_input *in);
/* Wipes every string inside vars and drops the reference. Accepts NULL. */
void host_vars_free(json_t *vars);

#endif
