/* kl_schema: OpenAPI v3 structural schemas of CustomResourceDefinitions, as the real
 * apiextensions-apiserver applies them: pruning, defaulting, validation, and the structural
 * check done when a CRD is admitted.
 *
 * A compiled schema (struct kl_schema) is immutable after kl_schema_new(), so it may be shared
 * between threads and used concurrently by any number of readers. The free function must be
 * called once, by the last user.
 *
 * Not evaluated here: x-kubernetes-validations (CEL rules). The real server evaluates them; we
 * accept and ignore them, so an object a real server would refuse because of a CEL rule is
 * accepted by kube-lite (see README.md). */
#ifndef KL_SCHEMA_H
#define KL_SCHEMA_H

#include <jansson.h>

struct kl_schema;

/* Compiles an openAPIV3Schema (BORROWED; deep-copied, the caller keeps it). Regular expressions
 * are compiled here, once. Returns 0 and sets *ret_schema; -EINVAL with a message in *ret_err
 * (malloc'ed, the caller frees it; ret_err may be NULL) when a pattern cannot be compiled or the
 * schema is not a JSON object; -ENOMEM. Does not perform the structural check. */
int kl_schema_new(const json_t *openapi_v3_schema, struct kl_schema **ret_schema, char **ret_err);
/* Releases a compiled schema. Accepts NULL. */
void kl_schema_free(struct kl_schema *schema);

/* Removes, in place, every field of obj that the schema does not specify, except below
 * x-kubernetes-preserve-unknown-fields: true; at the root, apiVersion, kind and metadata are
 * never pruned; inside x-kubernetes-embedded-resource objects apiVersion/kind/metadata are kept
 * likewise. Unknown fields inside metadata are left to the caller (the server handles metadata).
 * Never fails. */
void kl_schema_prune(const struct kl_schema *schema, json_t *obj);
/* As kl_schema_prune, and appends to unknown_fields (an array, may be NULL) the path of every
 * pruned field ("spec.foo", "spec.list[0].bar"), from which the server builds its
 * 'unknown field "spec.foo"' warnings. apiVersion/kind/metadata at the root are not reported. */
void kl_schema_prune_report(const struct kl_schema *schema, json_t *obj, json_t *unknown_fields);
/* Applies `default` values, in place, to missing fields (recursively, including inside array
 * items and additionalProperties values). Like the real server, a null in a non-nullable field
 * is first removed when the field has no default (as if it had not been sent), and replaced by
 * the default when it has one. Defaults are deep copies. Never fails. */
void kl_schema_default(const struct kl_schema *schema, json_t *obj);
/* Validates obj (BORROWED) against the schema. Returns 0 when valid, -EINVAL when invalid, after
 * appending to the array causes (may be NULL) one {"reason","message","field"} object for EVERY
 * violation, with the real server's reasons and wording ("FieldValueRequired"/"Required value",
 * "FieldValueInvalid", "FieldValueNotSupported", "FieldValueTypeInvalid", "FieldValueTooLong",
 * "FieldValueTooMany", "FieldValueDuplicate"), plus the x-kubernetes-list-type set/map
 * uniqueness and the apiVersion/kind of x-kubernetes-embedded-resource objects. The whole object
 * is validated, as the real server does, so a schema for metadata.name applies; the ObjectMeta
 * rules (name format, labels, ...) are the server's job. Call it after prune and default. */
int kl_schema_validate(const struct kl_schema *schema, const json_t *obj, json_t *causes);

/* Checks that a CRD schema (BORROWED, the raw openAPIV3Schema JSON) is structural in the sense
 * of the real server: a type on every node (unless x-kubernetes-int-or-string or
 * x-kubernetes-preserve-unknown-fields), no unsupported keywords ($ref, definitions,
 * dependencies, patternProperties, additionalItems, ...), properties and additionalProperties
 * not both set, the value validations (allOf/anyOf/oneOf/not) using no type/default/nullable/
 * additionalProperties, defaults that are themselves pruned and valid, metadata at the root
 * limited to name/generateName. Appends to causes (may be NULL) one
 * {"reason","message","field"} per problem, fields prefixed "spec.validation.openAPIV3Schema"
 * as the caller sets it (pass the prefix you want with kl_schema_check_structural_at).
 * Returns 0 or -EINVAL. */
int kl_schema_check_structural(const json_t *schema, json_t *causes);
/* As kl_schema_check_structural, with field paths starting at field_prefix (e.g.
 * "spec.versions[0].schema.openAPIV3Schema"). */
int kl_schema_check_structural_at(const json_t *schema, const char *field_prefix, json_t *causes);

#endif
