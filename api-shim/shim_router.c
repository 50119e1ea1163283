/* The route table is data: each entry is REF's pattern with its parameter classes and its
 * trailing-slash rule (spec §2.4, §4), so checking it against the spec is a line-by-line read. */
#include "shim_router.h"

#include <errno.h>
#include <string.h>

enum pclass {
    PC_NAME, /* [a-zA-Z0-9-_]+ : cluster, network and container manager names (no dot) */
    PC_ADDR, /* [a-zA-Z0-9-_.]+ : host addresses */
    PC_ANY,  /* [^/]+ : the address of /host/{address}/status (Routes' default class) */
};

struct route_def {
    enum shim_route route;
    enum shim_method method;
    const char *pattern; /* literal text with "{name}", "{address}", "{host}", "{any}" markers */
    int slash_opt;       /* 1: "X" and "X/" both match; 0: exact only */
};

static const struct route_def routes[] = {
    { SHIM_R_HOSTS_LIST, SHIM_M_GET, "/api/v0/hosts", 1 },
    { SHIM_R_HOST_GET, SHIM_M_GET, "/api/v0/host/{address}", 1 },
    { SHIM_R_HOST_PUT, SHIM_M_PUT, "/api/v0/host/{address}", 1 },
    { SHIM_R_HOST_PUT_SELF, SHIM_M_PUT, "/api/v0/host", 1 },
    { SHIM_R_HOST_CREDS, SHIM_M_GET, "/api/v0/host/{address}/creds", 0 },
    { SHIM_R_HOST_DELETE, SHIM_M_DELETE, "/api/v0/host/{address}", 1 },
    { SHIM_R_HOST_STATUS, SHIM_M_GET, "/api/v0/host/{any}/status", 1 },
    { SHIM_R_CLUSTERS_LIST, SHIM_M_GET, "/api/v0/clusters", 1 },
    /* DOC's list path, kept as an alias (decisions 1); only with its slash, as DOC writes it. */
    { SHIM_R_CLUSTERS_LIST, SHIM_M_GET, "/api/v0/cluster/", 0 },
    { SHIM_R_CLUSTER_GET, SHIM_M_GET, "/api/v0/cluster/{name}", 1 },
    { SHIM_R_CLUSTER_PUT, SHIM_M_PUT, "/api/v0/cluster/{name}", 1 },
    { SHIM_R_CLUSTER_DELETE, SHIM_M_DELETE, "/api/v0/cluster/{name}", 1 },
    { SHIM_R_MEMBERS_GET, SHIM_M_GET, "/api/v0/cluster/{name}/hosts", 1 },
    { SHIM_R_MEMBERS_PUT, SHIM_M_PUT, "/api/v0/cluster/{name}/hosts", 1 },
    { SHIM_R_MEMBER_GET, SHIM_M_GET, "/api/v0/cluster/{name}/hosts/{host}", 1 },
    { SHIM_R_MEMBER_PUT, SHIM_M_PUT, "/api/v0/cluster/{name}/hosts/{host}", 1 },
    { SHIM_R_MEMBER_DELETE, SHIM_M_DELETE, "/api/v0/cluster/{name}/hosts/{host}", 1 },
    { SHIM_R_NETWORKS_LIST, SHIM_M_GET, "/api/v0/networks", 1 },
    { SHIM_R_NETWORK_GET, SHIM_M_GET, "/api/v0/network/{name}", 1 },
    { SHIM_R_NETWORK_PUT, SHIM_M_PUT, "/api/v0/network/{name}", 1 },
    { SHIM_R_NETWORK_DELETE, SHIM_M_DELETE, "/api/v0/network/{name}", 1 },
    { SHIM_R_DEPLOY_GET, SHIM_M_GET, "/api/v0/cluster/{name}/deploy", 0 },
    { SHIM_R_DEPLOY_PUT, SHIM_M_PUT, "/api/v0/cluster/{name}/deploy", 0 },
    { SHIM_R_UPGRADE_GET, SHIM_M_GET, "/api/v0/cluster/{name}/upgrade", 0 },
    { SHIM_R_UPGRADE_PUT, SHIM_M_PUT, "/api/v0/cluster/{name}/upgrade", 0 },
    { SHIM_R_RESTART_GET, SHIM_M_GET, "/api/v0/cluster/{name}/restart", 0 },
    { SHIM_R_RESTART_PUT, SHIM_M_PUT, "/api/v0/cluster/{name}/restart", 0 },
    { SHIM_R_CMS_LIST, SHIM_M_GET, "/api/v0/containermanagers", 1 },
    { SHIM_R_CM_GET, SHIM_M_GET, "/api/v0/containermanager/{name}", 1 },
    { SHIM_R_CM_PUT, SHIM_M_PUT, "/api/v0/containermanager/{name}", 1 },
    { SHIM_R_CM_DELETE, SHIM_M_DELETE, "/api/v0/containermanager/{name}", 1 },
};

static const char *const route_names[SHIM_R_COUNT_] = {
    [SHIM_R_NONE] = "none",
    [SHIM_R_HOSTS_LIST] = "hosts_list",
    [SHIM_R_HOST_GET] = "host_get",
    [SHIM_R_HOST_PUT] = "host_put",
    [SHIM_R_HOST_PUT_SELF] = "host_put_self",
    [SHIM_R_HOST_CREDS] = "host_creds",
    [SHIM_R_HOST_DELETE] = "host_delete",
    [SHIM_R_HOST_STATUS] = "host_status",
    [SHIM_R_CLUSTERS_LIST] = "clusters_list",
    [SHIM_R_CLUSTER_GET] = "cluster_get",
    [SHIM_R_CLUSTER_PUT] = "cluster_put",
    [SHIM_R_CLUSTER_DELETE] = "cluster_delete",
    [SHIM_R_MEMBERS_GET] = "members_get",
    [SHIM_R_MEMBERS_PUT] = "members_put",
    [SHIM_R_MEMBER_GET] = "member_get",
    [SHIM_R_MEMBER_PUT] = "member_put",
    [SHIM_R_MEMBER_DELETE] = "member_delete",
    [SHIM_R_NETWORKS_LIST] = "networks_list",
    [SHIM_R_NETWORK_GET] = "network_get",
    [SHIM_R_NETWORK_PUT] = "network_put",
    [SHIM_R_NETWORK_DELETE] = "network_delete",
    [SHIM_R_DEPLOY_GET] = "deploy_get",
    [SHIM_R_DEPLOY_PUT] = "deploy_put",
    [SHIM_R_UPGRADE_GET] = "upgrade_get",
    [SHIM_R_UPGRADE_PUT] = "upgrade_put",
    [SHIM_R_RESTART_GET] = "restart_get",
    [SHIM_R_RESTART_PUT] = "restart_put",
    [SHIM_R_CMS_LIST] = "containermanagers_list",
    [SHIM_R_CM_GET] = "containermanager_get",
    [SHIM_R_CM_PUT] = "containermanager_put",
    [SHIM_R_CM_DELETE] = "containermanager_delete",
};

enum shim_method shim_method_parse(const char *s) {
    if (!s)
        return SHIM_M_OTHER;
    if (strcmp(s, "GET") == 0)
        return SHIM_M_GET;
    if (strcmp(s, "PUT") == 0)
        return SHIM_M_PUT;
    if (strcmp(s, "DELETE") == 0)
        return SHIM_M_DELETE;
    if (strcmp(s, "POST") == 0)
        return SHIM_M_POST;
    return SHIM_M_OTHER;
}

const char *shim_method_name(enum shim_method m) {
    switch (m) {
    case SHIM_M_GET: return "GET";
    case SHIM_M_PUT: return "PUT";
    case SHIM_M_DELETE: return "DELETE";
    case SHIM_M_POST: return "POST";
    default: return "OTHER";
    }
}

const char *shim_route_name(enum shim_route r) {
    if ((int)r < 0 || r >= SHIM_R_COUNT_ || !route_names[r])
        return "none";
    return route_names[r];
}

int shim_route_is_write(enum shim_route r) {
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (routes[i].route == r)
            return routes[i].method == SHIM_M_PUT || routes[i].method == SHIM_M_DELETE;
    return 0;
}

static int in_class(enum pclass pc, unsigned char c) {
    if (pc == PC_ANY)
        return c != '/' && c != '\0';
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_')
        return 1;
    return pc == PC_ADDR && c == '.';
}

/* Matches one pattern; fills the parameter slots on success. */
static int match_one(const struct route_def *d, const char *path, size_t n,
                     struct shim_route_match *m) {
    const char *p = d->pattern;
    size_t i = 0;
    int nparam = 0;

    while (*p) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            enum pclass pc;
            size_t start = i;

            if (strncmp(p, "{name}", 6) == 0)
                pc = PC_NAME;
            else if (strncmp(p, "{any}", 5) == 0)
                pc = PC_ANY;
            else
                pc = PC_ADDR; /* {address}, {host} */
            while (i < n && in_class(pc, (unsigned char)path[i]))
                i++;
            if (i == start)
                return 0;
            if (nparam == 0) {
                m->param = path + start;
                m->param_len = i - start;
            } else {
                m->param2 = path + start;
                m->param2_len = i - start;
            }
            nparam++;
            p = close + 1;
            continue;
        }
        if (i >= n || path[i] != *p)
            return 0;
        i++;
        p++;
    }
    if (i == n)
        return 1;
    return d->slash_opt && i + 1 == n && path[i] == '/';
}

int shim_router_match(enum shim_method method, const char *path, size_t n,
                      struct shim_route_match *ret) {
    memset(ret, 0, sizeof *ret);
    ret->route = SHIM_R_NONE;
    if (!path)
        return -ENOENT;
    /* A NUL inside the decoded path (from %00) can never be part of a route. */
    if (memchr(path, '\0', n))
        return -ENOENT;
    for (size_t k = 0; k < sizeof routes / sizeof routes[0]; k++) {
        struct shim_route_match m = { 0 };

        if (routes[k].method != method)
            continue;
        if (match_one(&routes[k], path, n, &m)) {
            m.route = routes[k].route;
            *ret = m;
            return 0;
        }
    }
    return -ENOENT;
}
