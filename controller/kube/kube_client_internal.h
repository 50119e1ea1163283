/* kube_client_internal: what the watch (and other modules of kube) need from the client beyond
 * its public API. Not for use outside controller/kube/. */
#ifndef KUBE_CLIENT_INTERNAL_H
#define KUBE_CLIENT_INTERNAL_H

#include <curl/curl.h>
#include <stdint.h>

struct kube_client;
struct kube_error;

/* Configures h (fresh or reset) for method on server+path_query: TLS, timeouts off, auth header
 * (token fetched now), user agent, NOSIGNAL, HTTP/1.1. Stores the header list the caller must
 * pass to kube__client_headers_free() after the transfer. Does not rate-limit (see
 * kube__client_throttle). Returns 0 or -errno with err set. */
int kube__client_setup(struct kube_client *c, CURL *h, const char *method, const char *path_query,
                       int with_body, const char *content_type, struct curl_slist **ret_headers,
                       struct kube_error *err);
/* Frees a header list, wiping the Authorization value first. Accepts NULL. */
void kube__client_headers_free(struct curl_slist *l);
/* Waits for a token of the rate limiter (counted in throttled_ms). */
void kube__client_throttle(struct kube_client *c);
/* The server answered 401: let an exec credential source fetch a new token before the next
 * request (no-op for static tokens and token files). */
void kube__client_reauth(struct kube_client *c);
/* Counts one attempt for (verb, code). */
void kube__client_count(struct kube_client *c, const char *verb, int code);
/* Sets (mono_ms > 0) or clears (0) a deadline for the blocking requests made by the CALLING
 * thread: each attempt's timeout is capped to it and no retry starts after it (the request then
 * fails with -ETIMEDOUT). Used by the leader elector, whose renewals must give up at the renew
 * deadline rather than after the client's full retry budget. */
void kube__client_set_deadline(int64_t mono_ms);
/* Maps a transport error to errno and fills err with curl's text (no secrets in it). */
int kube__curl_error(CURLcode rc, const char *errbuf, struct kube_error *err);

#endif
