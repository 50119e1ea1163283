/* kl_gc: kube-lite's only controllers, on one background thread:
 *   - the garbage collector: dependents whose owners (by uid) are all gone are deleted
 *     (background propagation); dangling references beside a live owner are removed;
 *     "orphan" and "foregroundDeletion" finalizers are processed;
 *   - namespace deletion: a Terminating namespace's objects are deleted, then the namespace;
 *   - CRD deletion: a deleted CRD's custom resources are deleted, then its cleanup finalizer
 *     removed (which removes the CRD and stops serving the type);
 *   - PodDisruptionBudget status (expectedPods, currentHealthy, desiredHealthy,
 *     disruptionsAllowed), as the disruption controller keeps it.
 * A pass runs after writes (kl_gc_kick) and at least every second while something is pending.
 * The pass collects work under the read lock and then acts through the normal write paths, so
 * it races with clients exactly like a real controller would (and loses with -ESTALE). */
#include "kl_server.h"

#include "cm_json.h"
#include "kl_pdb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ref {
    struct kl_rtype *rt;
    char *ns;
    char *name;
};

struct work {
    struct ref *items;
    size_t n, cap;
};

static void work_add(struct work *w, struct kl_rtype *rt, const char *ns, const char *name) {
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 16;
        struct ref *ni = realloc(w->items, nc * sizeof(*ni));
        if (!ni)
            return;
        w->items = ni;
        w->cap = nc;
    }
    w->items[w->n].rt = rt;
    w->items[w->n].ns = strdup(ns);
    w->items[w->n].name = strdup(name);
    w->n++;
}

static void work_done(struct work *w) {
    for (size_t i = 0; i < w->n; i++) {
        free(w->items[i].ns);
        free(w->items[i].name);
    }
    free(w->items);
    memset(w, 0, sizeof(*w));
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int uid_live(char **uids, size_t n, const char *uid) {
    return uid && n && bsearch(&uid, uids, n, sizeof(*uids), cmp_str) != NULL;
}

/* 1 when o has an ownerReference to uid. */
static int owned_by(const struct kl_obj *o, const char *uid) {
    size_t i;
    json_t *r;
    json_array_foreach(o->owners, i, r) {
        const char *u = json_string_value(json_object_get(r, "uid"));
        if (u && strcmp(u, uid) == 0)
            return 1;
    }
    return 0;
}

static int has_finalizer(const json_t *doc, const char *f) {
    size_t i;
    json_t *v;
    json_array_foreach(cm_json_get(doc, "metadata.finalizers"), i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), f) == 0)
            return 1;
    }
    return 0;
}

static void remove_finalizer(json_t *doc, const char *f) {
    json_t *fin = cm_json_get(doc, "metadata.finalizers");
    for (size_t i = json_array_size(fin); i-- > 0;) {
        json_t *v = json_array_get(fin, i);
        if (json_is_string(v) && strcmp(json_string_value(v), f) == 0)
            json_array_remove(fin, i);
    }
}

/* Applies fn to the current version of ref, retrying a few times on races. */
static void modify(struct kl_server *srv, const struct ref *r, void (*fn)(json_t *doc, void *ud),
                   void *ud) {
    struct kl_store *s = &srv->store;
    for (int attempt = 0; attempt < 5; attempt++) {
        pthread_rwlock_rdlock(&s->lock);
        struct kl_obj *o = kl_obj_ref(kl_store_get(r->rt, r->ns, r->name));
        pthread_rwlock_unlock(&s->lock);
        if (!o)
            return;
        json_t *doc = kl_obj_parse(o);
        kl_obj_unref(o);
        if (!doc)
            return;
        fn(doc, ud);
        int e = kl_api_update_object(srv, r->rt, doc);
        json_decref(doc);
        if (e != -ESTALE)
            return;
    }
}

static void drop_finalizer_cb(json_t *doc, void *ud) {
    remove_finalizer(doc, ud);
}

struct owner_edit {
    char **uids; /* live uids, sorted */
    size_t n;
    const char *drop_uid; /* remove references to this owner */
};

static void drop_refs_cb(json_t *doc, void *ud) {
    struct owner_edit *e = ud;
    json_t *owners = cm_json_get(doc, "metadata.ownerReferences");
    for (size_t i = json_array_size(owners); i-- > 0;) {
        const char *uid = json_string_value(json_object_get(json_array_get(owners, i), "uid"));
        if ((e->drop_uid && uid && strcmp(uid, e->drop_uid) == 0) ||
            (!e->drop_uid && !uid_live(e->uids, e->n, uid)))
            json_array_remove(owners, i);
    }
    if (json_array_size(owners) == 0)
        json_object_del(json_object_get(doc, "metadata"), "ownerReferences");
}

/* Recomputes one PDB's status; returns a new doc when it changed, else NULL. */
static json_t *pdb_status(struct kl_rtype *pods, const struct kl_obj *po) {
    json_t *doc = kl_obj_parse(po);
    if (!doc)
        return NULL;
    struct kl_pdb_budget b;
    kl_pdb_compute(doc, pods, po->ns, &b);
    long expected = b.expected, healthy = b.healthy, desired = b.desired, allowed = b.allowed;
    json_t *st = json_object_get(doc, "status");
    json_int_t gen = json_integer_value(cm_json_get(doc, "metadata.generation"));
    if (json_is_object(st) && json_integer_value(json_object_get(st, "expectedPods")) == expected &&
        json_integer_value(json_object_get(st, "currentHealthy")) == healthy &&
        json_integer_value(json_object_get(st, "desiredHealthy")) == desired &&
        json_integer_value(json_object_get(st, "disruptionsAllowed")) == allowed &&
        json_integer_value(json_object_get(st, "observedGeneration")) == gen) {
        json_decref(doc);
        return NULL;
    }
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(doc, "status", st);
    }
    json_object_set_new(st, "expectedPods", json_integer(expected));
    json_object_set_new(st, "currentHealthy", json_integer(healthy));
    json_object_set_new(st, "desiredHealthy", json_integer(desired));
    json_object_set_new(st, "disruptionsAllowed", json_integer(allowed));
    json_object_set_new(st, "observedGeneration", json_integer(gen));
    json_object_del(st, "disruptedPods");
    return doc;
}

/* One pass. Returns 1 when work is still pending (another pass soon). */
static int gc_pass(struct kl_server *srv) {
    struct kl_store *s = &srv->store;
    struct work del = {0}, dangling = {0}, orphan = {0}, foreground = {0}, ns_done = {0},
                crd_done = {0}, pdb_fix = {0};
    json_t *pdb_docs = json_array();
    char **uids = NULL;
    size_t n_uids = 0, cap = 0;
    int pending = 0;

    pthread_rwlock_rdlock(&s->lock);
    /* The set of live uids is only needed when some object has owners; with thousands of
     * objects and none owned (the common case under load) the pass stays a linear scan. */
    int any_owned = 0;
    for (size_t t = 0; t < s->n_types && !any_owned; t++) {
        struct kl_rtype *rt = s->types[t];
        for (size_t i = 0; !rt->removed && i < rt->n && !any_owned; i++)
            if (rt->objs[i]->owners)
                any_owned = 1;
    }
    for (size_t t = 0; any_owned && t < s->n_types; t++) {
        struct kl_rtype *rt = s->types[t];
        if (rt->removed)
            continue;
        for (size_t i = 0; i < rt->n; i++) {
            if (n_uids == cap) {
                cap = cap ? cap * 2 : 1024;
                char **nu = realloc(uids, cap * sizeof(*nu));
                if (!nu)
                    goto unlock;
                uids = nu;
            }
            uids[n_uids++] = rt->objs[i]->uid; /* borrowed while we hold the lock */
        }
    }
    if (n_uids)
        qsort(uids, n_uids, sizeof(*uids), cmp_str);

    struct kl_rtype *nst = kl_store_find_type(s, "", "namespaces");
    struct kl_rtype *crdt = kl_store_find_type(s, "apiextensions.k8s.io", "customresourcedefinitions");
    struct kl_rtype *pods = kl_store_find_type(s, "", "pods");
    struct kl_rtype *pdbt = kl_store_find_type(s, "policy", "poddisruptionbudgets");
    for (size_t t = 0; t < s->n_types; t++) {
        struct kl_rtype *rt = s->types[t];
        if (rt->removed)
            continue;
        for (size_t i = 0; i < rt->n; i++) {
            struct kl_obj *o = rt->objs[i];
            if (o->owners) {
                size_t live = 0, total = json_array_size(o->owners);
                for (size_t k = 0; k < total; k++) {
                    const char *uid = json_string_value(json_object_get(json_array_get(o->owners, k), "uid"));
                    if (uid_live(uids, n_uids, uid))
                        live++;
                }
                if (live == 0 && !o->deleting)
                    work_add(&del, rt, o->ns, o->name);
                else if (live > 0 && live < total)
                    work_add(&dangling, rt, o->ns, o->name);
            }
            if (o->deleting && o->n_finalizers > 0) {
                /* cheap test on the text before parsing */
                if (strstr(o->json, "\"orphan\""))
                    work_add(&orphan, rt, o->ns, o->name);
                if (strstr(o->json, "\"foregroundDeletion\""))
                    work_add(&foreground, rt, o->ns, o->name);
            }
            if (o->deleting && rt == nst)
                work_add(&ns_done, rt, o->ns, o->name);
            if (o->deleting && rt == crdt)
                work_add(&crd_done, rt, o->ns, o->name);
        }
    }
    for (size_t i = 0; pdbt && pods && i < pdbt->n; i++) {
        json_t *doc = pdb_status(pods, pdbt->objs[i]);
        if (doc) {
            json_array_append_new(pdb_docs, doc);
            work_add(&pdb_fix, pdbt, pdbt->objs[i]->ns, pdbt->objs[i]->name);
        }
    }
unlock:
    pthread_rwlock_unlock(&s->lock);

    /* Background deletion of dependents whose owners are all gone. */
    for (size_t i = 0; i < del.n; i++)
        kl_api_delete_object(srv, del.items[i].rt, del.items[i].ns, del.items[i].name, NULL);
    /* Dangling references beside live owners are removed. Uids are re-read under the lock by
     * kl_api_update_object's compare, so the borrowed uid list is only used as a hint here. */
    /* Orphan: dependents lose their reference, then the owner loses its finalizer. */
    for (size_t i = 0; i < orphan.n; i++) {
        const struct ref *r = &orphan.items[i];
        pthread_rwlock_rdlock(&s->lock);
        struct kl_obj *o = kl_obj_ref(kl_store_get(r->rt, r->ns, r->name));
        struct work deps = {0};
        for (size_t t = 0; o && t < s->n_types; t++) {
            struct kl_rtype *rt = s->types[t];
            for (size_t k = 0; !rt->removed && k < rt->n; k++)
                if (rt->objs[k]->owners && owned_by(rt->objs[k], o->uid))
                    work_add(&deps, rt, rt->objs[k]->ns, rt->objs[k]->name);
        }
        pthread_rwlock_unlock(&s->lock);
        if (o) {
            struct owner_edit e = {.drop_uid = o->uid};
            for (size_t k = 0; k < deps.n; k++)
                modify(srv, &deps.items[k], drop_refs_cb, &e);
            modify(srv, r, drop_finalizer_cb, "orphan");
        }
        work_done(&deps);
        kl_obj_unref(o);
    }
    /* Foreground: dependents are deleted first; the owner goes when none is left. */
    for (size_t i = 0; i < foreground.n; i++) {
        const struct ref *r = &foreground.items[i];
        pthread_rwlock_rdlock(&s->lock);
        struct kl_obj *o = kl_obj_ref(kl_store_get(r->rt, r->ns, r->name));
        struct work deps = {0};
        for (size_t t = 0; o && t < s->n_types; t++) {
            struct kl_rtype *rt = s->types[t];
            for (size_t k = 0; !rt->removed && k < rt->n; k++)
                if (rt->objs[k]->owners && owned_by(rt->objs[k], o->uid))
                    work_add(&deps, rt, rt->objs[k]->ns, rt->objs[k]->name);
        }
        pthread_rwlock_unlock(&s->lock);
        if (o && deps.n == 0)
            modify(srv, r, drop_finalizer_cb, "foregroundDeletion");
        for (size_t k = 0; k < deps.n; k++)
            kl_api_delete_object(srv, deps.items[k].rt, deps.items[k].ns, deps.items[k].name, "Foreground");
        if (deps.n)
            pending = 1;
        work_done(&deps);
        kl_obj_unref(o);
    }
    /* Namespaces: delete the content, then the namespace once nothing is left. */
    for (size_t i = 0; i < ns_done.n; i++) {
        const char *ns = ns_done.items[i].name;
        struct work content = {0};
        pthread_rwlock_rdlock(&s->lock);
        for (size_t t = 0; t < s->n_types; t++) {
            struct kl_rtype *rt = s->types[t];
            if (rt->removed || !rt->namespaced)
                continue;
            size_t k = kl_store_lower_bound(rt, ns, NULL);
            for (; k < rt->n && strcmp(rt->objs[k]->ns, ns) == 0; k++)
                if (!rt->objs[k]->deleting)
                    work_add(&content, rt, rt->objs[k]->ns, rt->objs[k]->name);
                else
                    pending = 1; /* waits for finalizers */
        }
        pthread_rwlock_unlock(&s->lock);
        for (size_t k = 0; k < content.n; k++)
            kl_api_delete_object(srv, content.items[k].rt, content.items[k].ns, content.items[k].name, NULL);
        int left = 0;
        pthread_rwlock_rdlock(&s->lock);
        for (size_t t = 0; t < s->n_types && !left; t++) {
            struct kl_rtype *rt = s->types[t];
            if (rt->removed || !rt->namespaced)
                continue;
            size_t k = kl_store_lower_bound(rt, ns, NULL);
            if (k < rt->n && strcmp(rt->objs[k]->ns, ns) == 0)
                left = 1;
        }
        struct kl_obj *no = kl_obj_ref(kl_store_get(ns_done.items[i].rt, "", ns));
        pthread_rwlock_unlock(&s->lock);
        if (!left && no && no->n_finalizers == 0) {
            json_t *doc = kl_obj_parse(no);
            if (doc) {
                pthread_rwlock_wrlock(&s->lock);
                struct kl_obj *cur = kl_store_get(ns_done.items[i].rt, "", ns);
                if (cur == no)
                    kl_store_remove(s, ns_done.items[i].rt, "", ns, doc, NULL);
                pthread_rwlock_unlock(&s->lock);
                kl_store_notify(s);
                kl_store_sync(s);
                json_decref(doc);
            }
        } else {
            pending = 1;
        }
        kl_obj_unref(no);
        work_done(&content);
    }
    /* CRDs: delete the custom resources, then drop the cleanup finalizer. */
    for (size_t i = 0; i < crd_done.n; i++) {
        const struct ref *r = &crd_done.items[i];
        pthread_rwlock_rdlock(&s->lock);
        struct kl_obj *co = kl_obj_ref(kl_store_get(r->rt, "", r->name));
        pthread_rwlock_unlock(&s->lock);
        json_t *crd = co ? kl_obj_parse(co) : NULL;
        kl_obj_unref(co);
        const char *group = cm_json_get_str(crd, "spec.group");
        const char *plural = cm_json_get_str(crd, "spec.names.plural");
        struct work content = {0};
        int left = 0;
        pthread_rwlock_rdlock(&s->lock);
        struct kl_rtype *ct = group && plural ? kl_store_find_type(s, group, plural) : NULL;
        for (size_t k = 0; ct && k < ct->n; k++) {
            left = 1;
            if (!ct->objs[k]->deleting)
                work_add(&content, ct, ct->objs[k]->ns, ct->objs[k]->name);
        }
        pthread_rwlock_unlock(&s->lock);
        for (size_t k = 0; k < content.n; k++)
            kl_api_delete_object(srv, content.items[k].rt, content.items[k].ns, content.items[k].name, NULL);
        if (!left && crd && has_finalizer(crd, "customresourcecleanup.apiextensions.k8s.io"))
            modify(srv, r, drop_finalizer_cb, "customresourcecleanup.apiextensions.k8s.io");
        else if (left)
            pending = 1;
        work_done(&content);
        json_decref(crd);
    }
    /* PDB status. */
    for (size_t i = 0; i < pdb_fix.n; i++) {
        json_t *doc = json_array_get(pdb_docs, i);
        kl_api_update_object(srv, pdb_fix.items[i].rt, doc);
    }
    /* dangling references, now that we are outside the first lock: use a fresh uid list */
    if (dangling.n) {
        for (size_t i = 0; i < dangling.n; i++) {
            pthread_rwlock_rdlock(&s->lock);
            size_t nu = 0;
            char **live = NULL;
            size_t lc = 0;
            for (size_t t = 0; t < s->n_types; t++) {
                struct kl_rtype *rt = s->types[t];
                for (size_t k = 0; !rt->removed && k < rt->n; k++) {
                    if (nu == lc) {
                        lc = lc ? lc * 2 : 1024;
                        char **nl = realloc(live, lc * sizeof(*nl));
                        if (!nl)
                            break;
                        live = nl;
                    }
                    live[nu++] = strdup(rt->objs[k]->uid);
                }
            }
            pthread_rwlock_unlock(&s->lock);
            if (nu)
                qsort(live, nu, sizeof(*live), cmp_str);
            struct owner_edit e = {.uids = live, .n = nu};
            modify(srv, &dangling.items[i], drop_refs_cb, &e);
            for (size_t k = 0; k < nu; k++)
                free(live[k]);
            free(live);
        }
    }
    if (del.n || orphan.n)
        pending = 1; /* deletes may orphan further dependents */
    free(uids);
    json_decref(pdb_docs);
    work_done(&del);
    work_done(&dangling);
    work_done(&orphan);
    work_done(&foreground);
    work_done(&ns_done);
    work_done(&crd_done);
    work_done(&pdb_fix);
    return pending;
}

static void *gc_thread(void *arg) {
    struct kl_server *srv = arg;
    uint64_t last_rv = (uint64_t)-1;
    int pending = 1;
    pthread_mutex_lock(&srv->gc_mu);
    while (!srv->gc_stop) {
        if (!srv->gc_kick && !pending) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&srv->gc_cv, &srv->gc_mu, &ts);
        }
        if (srv->gc_stop)
            break;
        srv->gc_kick = 0;
        pthread_mutex_unlock(&srv->gc_mu);

        pthread_rwlock_rdlock(&srv->store.lock);
        uint64_t rv = srv->store.rv;
        pthread_rwlock_unlock(&srv->store.lock);
        if (rv != last_rv || pending) {
            /* Our own writes change rv too, so the next round looks once more at their
             * effects (a deleted owner's dependents, an emptied namespace). */
            last_rv = rv;
            pending = gc_pass(srv);
            /* Keep the log short: replay time grows with it. */
            kl_api_compact(srv, 64u * 1024 * 1024);
            /* At most ten passes a second: under a write load every write kicks us. */
            struct timespec d = {.tv_nsec = 100 * 1000000L};
            nanosleep(&d, NULL);
        }
        pthread_mutex_lock(&srv->gc_mu);
    }
    pthread_mutex_unlock(&srv->gc_mu);
    return NULL;
}

int kl_gc_start(struct kl_server *srv) {
    pthread_mutex_init(&srv->gc_mu, NULL);
    pthread_cond_init(&srv->gc_cv, NULL);
    int r = pthread_create(&srv->gc_thread, NULL, gc_thread, srv);
    if (r)
        return -r;
    srv->gc_started = 1;
    return 0;
}

void kl_gc_stop(struct kl_server *srv) {
    if (!srv->gc_started)
        return;
    pthread_mutex_lock(&srv->gc_mu);
    srv->gc_stop = 1;
    pthread_cond_broadcast(&srv->gc_cv);
    pthread_mutex_unlock(&srv->gc_mu);
    pthread_join(srv->gc_thread, NULL);
    pthread_mutex_destroy(&srv->gc_mu);
    pthread_cond_destroy(&srv->gc_cv);
    srv->gc_started = 0;
}

void kl_gc_kick(struct kl_server *srv) {
    if (!srv->gc_started)
        return;
    pthread_mutex_lock(&srv->gc_mu);
    srv->gc_kick = 1;
    pthread_cond_signal(&srv->gc_cv);
    pthread_mutex_unlock(&srv->gc_mu);
}
