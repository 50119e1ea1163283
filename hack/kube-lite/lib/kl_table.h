/* kl_table: the meta.k8s.io/v1 Table form of a list, as the real server builds it for custom
 * resources (apiextensions-apiserver tableconvertor), and the small JSONPath subset that
 * additionalPrinterColumns use. */
#ifndef KL_TABLE_H
#define KL_TABLE_H

#include <jansson.h>
#include <stddef.h>

/* Builds a Table (new reference, NULL on -ENOMEM) for the n objects objs[] (BORROWED).
 * printer_columns is the CRD version's additionalPrinterColumns array (BORROWED) or NULL for
 * the default columns the real server uses (Name, Created At). include_object is the
 * includeObject parameter: "None", "Metadata" (default when NULL: a PartialObjectMetadata per
 * row) or "Object". resource_version and continue_token (NULL or "" to omit) go to the Table's
 * metadata. A column whose path is missing in an object yields a null cell, like the real one. */
json_t *kl_table_build(const json_t *printer_columns, json_t *const *objs, size_t n,
                       const char *include_object, const char *resource_version,
                       const char *continue_token);

/* Evaluates a printer-column JSONPath (".status.phase", ".spec.hosts[0]",
 * ".metadata.labels['commissaire.io/cluster']", optionally wrapped in "{...}") on obj (BORROWED).
 * Returns a NEW reference to the value found, or NULL when the path is missing or malformed. */
json_t *kl_jsonpath_eval(const json_t *obj, const char *jsonpath);
/* Validates a printer-column JSONPath as the real server does on CRD admission. Returns 0 or
 * -EINVAL with a message in *ret_err (malloc'ed, caller frees; may be NULL). */
int kl_jsonpath_check(const char *jsonpath, char **ret_err);

#endif
