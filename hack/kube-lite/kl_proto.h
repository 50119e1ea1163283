/* kl_proto: decodes the Kubernetes protobuf encoding (application/vnd.kubernetes.protobuf) of
 * the few built-in kinds that kubectl sends that way, into the JSON form.
 *
 * kubectl's typed clients (`kubectl create configmap|secret|namespace|serviceaccount|role|
 * rolebinding|clusterrole|clusterrolebinding|poddisruptionbudget`, the eviction `kubectl drain`
 * posts) send protobuf bodies and do not fall back to JSON when a server refuses them, so
 * kube-lite understands these messages. The field numbers come from the k8s.io/api
 * generated.proto files. Fields that are empty in protobuf (proto3 has no presence) are left out
 * of the JSON, like the omitempty JSON tags of those types. Pure; thread-safe. */
#ifndef KL_PROTO_H
#define KL_PROTO_H

#include <jansson.h>
#include <stddef.h>

/* Decodes body (the "k8s\0" magic + runtime.Unknown envelope). Returns 0 with a new object in
 * *ret_doc (apiVersion and kind set from the envelope); -EPROTONOSUPPORT for a kind not
 * supported here (message in *ret_err); -EINVAL for malformed input; -ENOMEM. *ret_err is
 * malloc'ed (caller frees; may be NULL). */
int kl_proto_decode(const char *body, size_t len, json_t **ret_doc, char **ret_err);

#endif
