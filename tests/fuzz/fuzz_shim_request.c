/* Fuzz target: the shim's router and JSON request decoding, the code every client byte of a
 * REST request goes through before anything is written. Input: "METHOD PATH\n" then the body.
 * Properties checked: no crash/leak/UB (sanitizers), route parameters lie inside the path and
 * respect their character classes, decoders either succeed with valid values or fail with a
 * 4xx status and a message. */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim_request.h"
#include "shim_router.h"

static void check_param(const char *path, size_t n, const char *p, size_t len) {
    if (!p)
        return;
    assert(p >= path && p + len <= path + n && len > 0);
    for (size_t i = 0; i < len; i++)
        assert(p[i] != '/' && p[i] != '\0');
}

static void check_err(int rc, const struct shim_err *e) {
    if (rc < 0 && rc != -12 /* ENOMEM */) {
        assert(e->status >= 400 && e->status < 500);
        assert(e->msg[0] != 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *nl = memchr(data, '\n', size), *sp;
    char method[16] = "", *path = NULL, *p1 = NULL, *p2 = NULL;
    struct shim_route_match m;
    struct shim_err e = { 0 };
    json_t *body = NULL;
    const char *bodyp;
    size_t bodyn, pathn;
    int rc;

    if (!nl)
        return 0;
    sp = memchr(data, ' ', (size_t)(nl - (const char *)data));
    if (!sp || sp - (const char *)data >= (long)sizeof method)
        return 0;
    memcpy(method, data, (size_t)(sp - (const char *)data));
    pathn = (size_t)(nl - sp - 1);
    path = malloc(pathn + 1);
    if (!path)
        return 0;
    memcpy(path, sp + 1, pathn);
    path[pathn] = 0;
    bodyp = nl + 1;
    bodyn = size - (size_t)(bodyp - (const char *)data);

    rc = shim_router_match(shim_method_parse(method), path, pathn, &m);
    assert((rc == 0) == (m.route != SHIM_R_NONE));
    check_param(path, pathn, m.param, m.param_len);
    check_param(path, pathn, m.param2, m.param2_len);
    if (m.param)
        p1 = strndup(m.param, m.param_len);
    if (m.param2)
        p2 = strndup(m.param2, m.param2_len);
    /* {name} parameters never contain a dot (spec §2.4); length is checked later, per use. */
    if (m.route == SHIM_R_CLUSTER_GET || m.route == SHIM_R_NETWORK_PUT)
        for (const char *c = p1; *c; c++)
            assert(*c != '.' && *c != ':' && *c != ' ');

    rc = shim_body_parse(bodyp, bodyn, &body, &e);
    check_err(rc, &e);
    if (rc == 0) {
        struct shim_host_req h = { 0 };
        struct shim_cluster_req c = { 0 };
        struct shim_members_req mm = { 0 };
        struct shim_named_req nr = { 0 };
        char *v = NULL;

        assert(json_is_object(body));
        rc = shim_host_req_decode(body, m.route == SHIM_R_HOST_PUT ? p1 : NULL, "192.0.2.1", &h, &e);
        check_err(rc, &e);
        if (rc == 0) {
            assert(shim_address_valid(h.address) && h.ssh_priv_key && h.key && h.remote_user);
            assert(!h.cluster || shim_name_valid(h.cluster));
        }
        shim_host_req_done(&h);
        rc = shim_cluster_req_decode(body, p1 && shim_name_valid(p1) ? p1 : "c", &c, &e);
        check_err(rc, &e);
        shim_cluster_req_done(&c);
        rc = shim_members_req_decode(body, &mm, &e);
        check_err(rc, &e);
        if (rc == 0)
            for (size_t i = 0; i < mm.new_hosts.n; i++)
                assert(shim_address_valid(mm.new_hosts.v[i]));
        shim_members_req_done(&mm);
        rc = shim_deploy_req_decode(body, &v, &e);
        check_err(rc, &e);
        if (rc == 0)
            assert(v[0] && !strchr(v, ' ') && !strchr(v, ';'));
        free(v);
        rc = shim_network_req_decode(body, "n", &nr, &e);
        check_err(rc, &e);
        if (rc == 0)
            assert(json_is_object(nr.options));
        shim_named_req_done(&nr);
        rc = shim_cm_req_decode(body, "n", &nr, &e);
        check_err(rc, &e);
        shim_named_req_done(&nr);
    }
    json_decref(body);
    free(p1);
    free(p2);
    free(path);
    return 0;
}
