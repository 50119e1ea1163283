/* kube_url: building API paths and query strings, with correct percent-escaping.
 *
 * Pure functions (no I/O, no global state), thread-safe. Layout of a resource path:
 *   core group (group "" or NULL):  /api/v1[/namespaces/NS]/RESOURCE[/NAME[/SUBRESOURCE]]
 *   named group:                    /apis/GROUP/VERSION[/namespaces/NS]/RESOURCE[/NAME[/SUB]]
 * Path segments are escaped so that '/', '?', '#', '%', ' ' and non-ASCII bytes can never change
 * the path's structure; query values are escaped as application/x-www-form-urlencoded
 * components (space -> %20, '=' '&' '+' ',' escaped). */
#ifndef KUBE_URL_H
#define KUBE_URL_H

#include <stdint.h>

struct cm_buf;
struct kube_resource;
struct kube_list_options;

/* Appends s percent-escaped as one path segment (unreserved characters A-Za-z0-9-._~ kept).
 * Returns 0 or cm_buf's -E2BIG/-ENOMEM. */
int kube_url_escape_segment(struct cm_buf *out, const char *s);
/* Appends s percent-escaped as a query component. Same returns. */
int kube_url_escape_query(struct cm_buf *out, const char *s);
/* Appends the path of a resource collection (name NULL) or object (name set), with an optional
 * subresource (needs a name). ns is used only when res->namespaced; NULL or "" for a namespaced
 * resource means "all namespaces" (only valid for a collection).
 * Returns 0, -EINVAL (missing version/resource, subresource without name, namespaced object
 * without namespace, empty name), -E2BIG/-ENOMEM. */
int kube_url_path(struct cm_buf *out, const struct kube_resource *res, const char *ns,
                  const char *name, const char *subresource);
/* Appends "?k=v&..." for the set fields of opts (nothing when none is set). watch adds
 * "watch=true"; allow_bookmarks adds "allowWatchBookmarks=true" (only with watch).
 * opts may be NULL. Returns 0, -E2BIG/-ENOMEM. */
int kube_url_list_query(struct cm_buf *out, const struct kube_list_options *opts, int watch,
                        int allow_bookmarks);
/* Appends "sep key=value" with value escaped, where sep is '?' when out holds no '?' yet and
 * '&' otherwise. Returns 0, -E2BIG/-ENOMEM. */
int kube_url_query_add(struct cm_buf *out, const char *key, const char *value);

#endif
