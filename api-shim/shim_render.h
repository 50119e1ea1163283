/* shim_render: the mapping between commissaire.io objects and Commissaire REST v0 records.
 *
 * One place decides how each REST field comes from a resource (api-shim/README.md has the table):
 * pure functions from borrowed Kubernetes objects to NEW jansson values in REF's field order.
 * Also the naming rule that turns REST names into Kubernetes object names. Thread-safe. */
#ifndef SHIM_RENDER_H
#define SHIM_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Annotations and labels the shim writes. */
#define SHIM_ANN_REST_NAME "commissaire.io/rest-name"     /* REST name when it differs */
#define SHIM_ANN_REST_STATUS "commissaire.io/rest-status" /* cluster "status" as PUT by a client */
#define SHIM_ANN_LOCK "commissaire.io/shim-lock"          /* cluster write lock (shim_api.c) */
#define SHIM_LABEL_CLUSTER "commissaire.io/cluster"
#define SHIM_LABEL_HOST "commissaire.io/host"
#define SHIM_GROUP "commissaire.io"
#define SHIM_API_VERSION "commissaire.io/v1alpha1"

/* The Kubernetes object name for a REST name or address: itself when it is already a valid
 * DNS-1123 name of at most max_len characters (e.g. every IPv4 address), otherwise a lower-cased,
 * '-'-joined form plus "-" and 8 hex digits of a hash of the original, so that distinct REST
 * names never share an object and the mapping needs no lookup table. Writes into out (n >= 64).
 * Returns 0, or -EINVAL when nothing usable remains (cannot happen for valid REST names). */
int shim_k8s_name(const char *rest, size_t max_len, char *out, size_t n);
/* The REST name of an object: the rest-name annotation, else metadata.name. Borrowed. */
const char *shim_rest_name(const json_t *obj);

/* "2017-06-26T15:48:18.710454" (REF's format, UTC, six fraction digits) from an RFC 3339 time;
 * "" for NULL/unparsable input. Writes into out (n >= 32); returns out. */
char *shim_render_time(const char *rfc3339, char *out, size_t n);

/* The REST status of a Host: status.phase, or "investigating" before the controller wrote one
 * (decisions 5). Borrowed/static. */
const char *shim_host_status(const json_t *host);
/* Whether the host counts as available in its cluster (decisions 30): active, or disassociated
 * when the cluster has no kubernetes/openshift container manager. */
bool shim_host_available(const json_t *host, bool managed);

/* Host: {address, status, os, cpus, memory, space, last_check, source} (spec §3.2). */
json_t *shim_render_host(const json_t *host);

enum shim_cluster_form {
    SHIM_CLUSTER_SAFE,    /* {name, status, network, container_manager}: PUT cluster */
    SHIM_CLUSTER_HOSTSET, /* + hostset: PUT cluster/{name}/hosts */
    SHIM_CLUSTER_GET,     /* + hostset + hosts counts, computed status: GET cluster */
};
/* Cluster with its member hosts (array of Host objects, may be NULL), the REST names of its
 * network (NULL: spec.network as is) and of its container manager ("" for none). managed: the
 * manager is kubernetes/openshift. */
json_t *shim_render_cluster(const json_t *cluster, const json_t *members, const char *net_rest_name,
                            const char *cm_rest_name, bool managed, enum shim_cluster_form form);

/* Operation → ClusterRestart / ClusterUpgrade / ClusterDeploy (spec §8.1, decisions 7). */
json_t *shim_render_operation(const json_t *op, const char *cluster_rest_name);
/* "in_process", "finished" or "failed" for an Operation's phase. */
const char *shim_operation_status(const json_t *op);
/* 1 while the operation is pending, running or paused (decisions 18: a new one is a 409). */
int shim_operation_active(const json_t *op);

/* Network: {name, type, options}. */
json_t *shim_render_network(const json_t *net);
/* ContainerManager: {name, type, options}; options = spec.options plus server_url and
 * insecure_skip_tls_verify from the spec and token (may be NULL) from its Secret. */
json_t *shim_render_cm(const json_t *cm, const char *token);

/* Appends the JSON text of v the way REF's json.dumps writes it (", " and ": " separators,
 * non-ASCII escaped). Returns a malloc'd string or NULL. */
char *shim_json_text(const json_t *v);

#endif
