/* cm_json: small conveniences over jansson for the shapes Kubernetes objects have.
 *
 * Paths are dot-separated object keys ("metadata.labels"); a key containing a dot cannot be
 * addressed this way (use jansson directly). Returned json_t pointers are BORROWED from the
 * object they were found in unless a function says otherwise. */
#ifndef CM_JSON_H
#define CM_JSON_H

#include <jansson.h>
#include <stdint.h>

/* The value at path, or NULL when any step is missing or not an object. */
json_t *cm_json_get(const json_t *obj, const char *path);
/* The string at path, or NULL when missing or not a string. */
const char *cm_json_get_str(const json_t *obj, const char *path);
/* The integer at path, or def when missing or not an integer. */
int64_t cm_json_get_int(const json_t *obj, const char *path, int64_t def);
/* 1 when the value at path is true, 0 when false, def otherwise. */
int cm_json_get_bool(const json_t *obj, const char *path, int def);
/* Sets path to value, creating intermediate objects. STEALS value (also on failure).
 * Returns 0, -EINVAL when an intermediate step exists but is not an object, -ENOMEM. */
int cm_json_set(json_t *obj, const char *path, json_t *value);
/* Serialises compactly; the caller frees the result with free(). NULL on -ENOMEM. */
char *cm_json_dumps(const json_t *v);
/* Parses text of length n (need not be NUL-terminated). Returns a new reference or NULL, with a
 * one-line reason in err_out (may be NULL; n_err its size) on failure. */
json_t *cm_json_loadb(const char *text, size_t n, char *err_out, size_t n_err);

#endif
