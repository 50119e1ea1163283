/* shim_router: the REST v0 route table and the path matcher.
 *
 * The table is REF's (spec §4): 30 routes, each with its own parameter character classes and its
 * own trailing-slash rule, plus the `/api/v0/cluster/` alias for the cluster list (decisions 1).
 * Matching is anchored, case-sensitive and done on the already percent-decoded path. A path that
 * exists with another method does not match (REF answers 404, never 405, for that).
 * Pure functions: callable from any thread. */
#ifndef SHIM_ROUTER_H
#define SHIM_ROUTER_H

#include <stddef.h>

enum shim_method {
    SHIM_M_GET,
    SHIM_M_PUT,
    SHIM_M_DELETE,
    SHIM_M_POST,
    SHIM_M_OTHER, /* HEAD, OPTIONS, PATCH, ...: never routed */
};

enum shim_route {
    SHIM_R_NONE = 0,          /* no route matched */
    SHIM_R_HOSTS_LIST,        /* GET    /api/v0/hosts */
    SHIM_R_HOST_GET,          /* GET    /api/v0/host/{address} */
    SHIM_R_HOST_PUT,          /* PUT    /api/v0/host/{address} */
    SHIM_R_HOST_PUT_SELF,     /* PUT    /api/v0/host */
    SHIM_R_HOST_CREDS,        /* GET    /api/v0/host/{address}/creds */
    SHIM_R_HOST_DELETE,       /* DELETE /api/v0/host/{address} */
    SHIM_R_HOST_STATUS,       /* GET    /api/v0/host/{address}/status */
    SHIM_R_CLUSTERS_LIST,     /* GET    /api/v0/clusters (and the /api/v0/cluster/ alias) */
    SHIM_R_CLUSTER_GET,       /* GET    /api/v0/cluster/{name} */
    SHIM_R_CLUSTER_PUT,       /* PUT    /api/v0/cluster/{name} */
    SHIM_R_CLUSTER_DELETE,    /* DELETE /api/v0/cluster/{name} */
    SHIM_R_MEMBERS_GET,       /* GET    /api/v0/cluster/{name}/hosts */
    SHIM_R_MEMBERS_PUT,       /* PUT    /api/v0/cluster/{name}/hosts (old/new CAS) */
    SHIM_R_MEMBER_GET,        /* GET    /api/v0/cluster/{name}/hosts/{host} */
    SHIM_R_MEMBER_PUT,        /* PUT    /api/v0/cluster/{name}/hosts/{host} */
    SHIM_R_MEMBER_DELETE,     /* DELETE /api/v0/cluster/{name}/hosts/{host} */
    SHIM_R_NETWORKS_LIST,     /* GET    /api/v0/networks */
    SHIM_R_NETWORK_GET,       /* GET    /api/v0/network/{name} */
    SHIM_R_NETWORK_PUT,       /* PUT    /api/v0/network/{name} */
    SHIM_R_NETWORK_DELETE,    /* DELETE /api/v0/network/{name} */
    SHIM_R_DEPLOY_GET,        /* GET    /api/v0/cluster/{name}/deploy */
    SHIM_R_DEPLOY_PUT,        /* PUT    /api/v0/cluster/{name}/deploy */
    SHIM_R_UPGRADE_GET,       /* GET    /api/v0/cluster/{name}/upgrade */
    SHIM_R_UPGRADE_PUT,       /* PUT    /api/v0/cluster/{name}/upgrade */
    SHIM_R_RESTART_GET,       /* GET    /api/v0/cluster/{name}/restart */
    SHIM_R_RESTART_PUT,       /* PUT    /api/v0/cluster/{name}/restart */
    SHIM_R_CMS_LIST,          /* GET    /api/v0/containermanagers */
    SHIM_R_CM_GET,            /* GET    /api/v0/containermanager/{name} */
    SHIM_R_CM_PUT,            /* PUT    /api/v0/containermanager/{name} */
    SHIM_R_CM_DELETE,         /* DELETE /api/v0/containermanager/{name} */
    SHIM_R_COUNT_,
};

/* What a match yields. The parameters point INTO the path given to shim_router_match (not
 * NUL-terminated: use the lengths); they are valid as long as that path is. */
struct shim_route_match {
    enum shim_route route;
    const char *param;      /* {address} or {name}; NULL when the route has none */
    size_t param_len;
    const char *param2;     /* {host} of the membership routes; NULL otherwise */
    size_t param2_len;
};

/* Parses a method name ("GET", ...). Unknown names give SHIM_M_OTHER. */
enum shim_method shim_method_parse(const char *s);
const char *shim_method_name(enum shim_method m);

/* Matches method + path (percent-decoded, no query string, length n). Always fills *ret: with
 * route SHIM_R_NONE when nothing matched. Returns 0 on a match, -ENOENT otherwise. */
int shim_router_match(enum shim_method method, const char *path, size_t n,
                      struct shim_route_match *ret);

/* A stable name for the route, for metrics and logs ("host_get", "none"). */
const char *shim_route_name(enum shim_route r);
/* 1 when the route changes something (every PUT and DELETE), else 0. */
int shim_route_is_write(enum shim_route r);

#endif
