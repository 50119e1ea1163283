/* kl_util: helpers shared by the kubelite_lib modules (not part of the public API).
 *
 * The real API server is written in Go, and its error messages embed values printed by Go's fmt
 * (%q, %v) and encoding/json. To produce byte-identical messages we reproduce those printers
 * here, for the value kinds JSON can hold. Pure functions, thread-safe. */
#ifndef KL_UTIL_H
#define KL_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cm_buf;

/* Appends s quoted like Go's strconv.Quote / %q (printable UTF-8 kept, \" \\ \n ... escaped,
 * invalid bytes as \x..). Returns 0 or a negative errno from cm_buf. */
int kl__go_quote(struct cm_buf *b, const char *s, size_t n);
/* Appends a float64 printed like Go's %v (strconv 'g' with the shortest representation). */
int kl__go_float(struct cm_buf *b, double v);
/* Appends v serialised like Go's encoding/json.Marshal of the equivalent interface{} value
 * (sorted keys, compact, shortest floats, <>& escaped). */
int kl__go_json(struct cm_buf *b, const json_t *v);
/* Appends a "bad value" the way field.Error.ErrorBody() prints it: strings %q, numbers and
 * booleans %v, everything else (null, objects, arrays) as JSON. */
int kl__go_value(struct cm_buf *b, const json_t *v);
/* Number of UTF-8 runes in s[0..n) (an invalid byte counts as one rune, like Go). */
size_t kl__utf8_runes(const char *s, size_t n);
/* Appends a {"reason","message","field"} object to causes (ignored when causes is NULL).
 * Returns 0 or -ENOMEM. */
int kl__cause_add(json_t *causes, const char *reason, const char *message, const char *field);
/* s, or "" when s is NULL. */
static inline const char *kl__s(const char *s)
{
    return s ? s : "";
}
/* malloc'ed printf; NULL on -ENOMEM. */
char *kl__strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Sets *ret_err (when ret_err is not NULL) to a malloc'ed formatted message. */
void kl__set_err(char **ret_err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
