/* host_vars: the variables OS profile templates are rendered with, computed from the Host, its
 * Cluster, the Cluster's Network and ContainerManager (pure; unit-tested).
 *
 * A JSON object of objects, addressed by dotted paths in templates ({{ host.address }}); every
 * value is a string (possibly ""):
 *   host.address host.name host.hostname host.os host.osVersion host.nodeName cluster.name
 *   network.name network.type network.address network.etcdEndpoints network.etcdPrefix
 *   network.flannelOptions
 *   kube.server kube.ca kube.token kube.insecure containerManager.type containerManager.name
 * network.flannelOptions reproduces REF's flanneld template: "--remote=<options.address>" for
 * flannel_server, "" for flannel_etcd. etcd endpoints come from options.etcdEndpoints (or the
 * REST API's options.etcd_server_url / server_url), default http://127.0.0.1:2379; the prefix
 * from options.etcdPrefix, default REF's /atomic01/network. A host without a cluster, or whose
 * Cluster names no Network, uses the built-in default (flannel_etcd, no options) as REF does.
 * kube.token is a secret: it is only ever written to the host (kubelet kubeconfig), never
 * logged; callers must not log the variables. */
#ifndef HOST_VARS_H
#define HOST_VARS_H

#include <jansson.h>

struct host_vars_input {
    const json_t *host;    /* required */
    const json_t *cluster; /* may be NULL */
    const json_t *network; /* may be NULL: defaults */
    const json_t *cm;      /* may be NULL: no container manager */
    const char *node_name; /* may be NULL */
    const char *server;    /* API server URL the node should use (CM's, or ours for inCluster) */
    const char *ca;        /* PEM CA of that server, may be NULL */
    const char *token;     /* bearer token for the kubelet, may be NULL (secret) */
};

/* Builds a new JSON object {"host": {"address": ...}, ...}. Returns NULL on -ENOMEM. */
json_t *host_vars_build(const struct host_vars_input *in);

#endif
