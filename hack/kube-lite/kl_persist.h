/* kl_persist: --data-dir durability as a snapshot plus an append-only log of JSON lines.
 *
 * Records are single lines: {"t":"put","g":GROUP,"r":RESOURCE,"o":OBJECT} or
 * {"t":"del","g":GROUP,"r":RESOURCE,"k":"ns/name","rv":N}. snapshot.jsonl holds put records of
 * every object at one point; log.jsonl the writes after it. Replay reads the snapshot, then the
 * log; a torn last line (crash mid-write) is ignored. Appends happen under the store's write
 * lock; fsync happens after it is released, and one fsync covers every append before it, so
 * concurrent writers share their fsyncs (group commit). */
#ifndef KL_PERSIST_H
#define KL_PERSIST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct kl_persist;
struct cm_buf;

/* Opens (creating) dir and its log for appending. Returns 0 and *ret_p, or -errno. */
int kl_persist_open(const char *dir, struct kl_persist **ret_p);
/* Closes files and frees. Accepts NULL. */
void kl_persist_free(struct kl_persist *p);

/* Calls record_cb for every record of the snapshot, then of the log, in order. rec is BORROWED.
 * A callback error stops the replay and is returned. Returns 0, -errno. */
int kl_persist_replay(struct kl_persist *p, int (*record_cb)(json_t *rec, void *userdata),
                      void *userdata);
/* Appends one record line (data must end with '\n'). Not thread-safe: the store's write lock
 * serialises callers. Returns 0 with the log offset after it in *ret_end, or -EIO. */
int kl_persist_append(struct kl_persist *p, const char *data, size_t len, uint64_t *ret_end);
/* Makes the log durable up to offset end (no-op when an fsync since already covered it).
 * Thread-safe. Returns 0 or -EIO. */
int kl_persist_sync(struct kl_persist *p, uint64_t end);
/* Replaces the snapshot by the records in snapshot (lines), durably, and empties the log. The
 * caller makes sure no append runs concurrently (holds the store's write lock or is alone).
 * Returns 0 or -errno. */
int kl_persist_compact(struct kl_persist *p, const struct cm_buf *snapshot);
/* Bytes in the log now. */
uint64_t kl_persist_log_size(const struct kl_persist *p);

#endif
