/* kl_req: one API request as the handlers in kl_api.c and kl_write.c see it. Internal. */
#ifndef KL_REQ_H
#define KL_REQ_H

#include "kl_server.h"

struct kl_rq {
    struct kl_server *srv;
    struct kl_http_conn *conn;
    const struct kl_http_req *req;
    const struct kl_auth_user *user;
    const char *group;    /* "" for the core group */
    const char *version;
    const char *ns;       /* namespace from the path, or NULL */
    const char *resource;
    const char *name;     /* NULL for a collection */
    const char *sub;      /* subresource ("status", "eviction") or NULL */
    struct kl_rtype *rt;  /* BORROWED; types are never freed while the server runs */
    const struct kl_rversion *ver;
    int table;            /* the client asked for the meta.k8s.io Table form */
    int dry_run;
    char *segbuf;         /* owns the path segments */
};

/* Writes (kl_write.c). Each answers the request. */
void kl_write_create(struct kl_rq *rq);
void kl_write_update(struct kl_rq *rq);
void kl_write_patch(struct kl_rq *rq);
void kl_write_delete(struct kl_rq *rq);
void kl_write_delete_collection(struct kl_rq *rq);
void kl_write_evict(struct kl_rq *rq);
void kl_write_review(struct kl_rq *rq);

/* Answers o in the form the request wants (raw, another served version, or a Table). */
void kl_api_send_obj(struct kl_rq *rq, int code, const struct kl_obj *o);
/* Same for a tree. */
void kl_api_send_doc(struct kl_rq *rq, int code, json_t *doc);
/* "group/version" or "v1" for the core group, into buf. */
const char *kl_api_version_of(const char *group, const char *version, char *buf, size_t n);

#endif
