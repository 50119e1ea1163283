/* kl_table: the meta.k8s.io/v1 Table form of a list, as the real server builds it for custom
 * resources (apiextensions-apiserver tableconvertor), and the small JSONPath subset that
 * additionalPrinterColumns use. */
#ifndef KL_TABLE_H
#define KL_TABLE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Builds a Table (new reference, NULL on -ENOMEM) for the n objects objs[] (BORROWED).
 * printer_columns is the CRD version's additionalPrinterColumns array (BORROWED); NULL or []
 * gives what the real server serves for a CRD without columns: Name and Age (type date, from
 * .metadata.creationTimestamp). The Name column always comes first. Date cells are rendered as
 * ages ("5m10s") relative to now, as the real server does. include_object is the includeObject
 * parameter: "None" (no "object" in rows), "Metadata" (default when NULL or "": a
 * meta.k8s.io/v1 PartialObjectMetadata per row) or "Object" (the object itself); the caller
 * refuses other values with 400 'unrecognized includeObject value: "x"'. resource_version and
 * continue_token (NULL or "" to omit) go to the Table's metadata. A column whose path is
 * missing in an object yields a null cell, like the real one. */
json_t *kl_table_build(const json_t *printer_columns, json_t *const *objs, size_t n,
                       const char *include_object, const char *resource_version,
                       const char *continue_token);
/* As kl_table_build with "now" given (milliseconds since the epoch), for tests. */
json_t *kl_table_build_at(const json_t *printer_columns, json_t *const *objs, size_t n,
                          const char *include_object, const char *resource_version,
                          const char *continue_token, int64_t now_ms);

/* Evaluates a printer-column JSONPath (".status.phase", ".spec.hosts[0]", negative indexes,
 * ".metadata.labels['commissaire.io/cluster']", ".metadata.labels.commissaire\\.io/cluster",
 * ".status.conditions[?(@.type=="Ready")].status", optionally wrapped in "{...}") on obj
 * (BORROWED). Only the first match is returned, as the real table convertor uses only that.
 * Returns a NEW reference to the value found, or NULL when the path is missing or malformed. */
json_t *kl_jsonpath_eval(const json_t *obj, const char *jsonpath);
/* Validates a printer-column JSONPath as the real server does on CRD admission. Returns 0 or
 * -EINVAL with a message in *ret_err (malloc'ed, caller frees; may be NULL). */
int kl_jsonpath_check(const char *jsonpath, char **ret_err);

#endif
