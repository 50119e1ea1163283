/* kube_config: kubeconfig (YAML) and in-cluster configuration.
 *
 * The YAML document is first turned into a jansson tree (mappings -> objects, sequences ->
 * arrays, every scalar -> string) by a small libyaml event parser, then the kubeconfig structure
 * is read from that tree. Keeping YAML handling in one converter means the kubeconfig logic is
 * ordinary JSON navigation, and YAML errors are reported in one place with their line. */
#include "kube_config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "cm_b64.h"
#include "cm_buf.h"
#include "cm_file.h"
#include "kube_error.h"
#include "kube_exec.h"

#define KUBECONFIG_MAX (16 * 1024 * 1024)
#define YAML_DEPTH_MAX 64

/* ---- YAML -> JSON ---------------------------------------------------------------------- */

struct yconv {
    yaml_parser_t parser;
    struct kube_error *err;
};

static int yfail(struct yconv *y, const char *what, size_t line) {
    kube_error_set(y->err, 0, NULL, "kubeconfig: %s at line %zu", what, line + 1);
    return -EINVAL;
}

static int next_event(struct yconv *y, yaml_event_t *ev) {
    if (!yaml_parser_parse(&y->parser, ev)) {
        kube_error_set(y->err, 0, NULL, "kubeconfig: malformed YAML at line %zu column %zu: %s",
                       y->parser.problem_mark.line + 1, y->parser.problem_mark.column + 1,
                       y->parser.problem ? y->parser.problem : "syntax error");
        return -EINVAL;
    }
    return 0;
}

static int parse_node(struct yconv *y, yaml_event_t *ev, int depth, json_t **ret);

/* Parses the node started by ev (already consumed) into *ret. */
static int parse_node(struct yconv *y, yaml_event_t *ev, int depth, json_t **ret) {
    size_t line = ev->start_mark.line;
    if (depth > YAML_DEPTH_MAX)
        return yfail(y, "nesting too deep", line);
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        *ret = json_stringn((const char *)ev->data.scalar.value, ev->data.scalar.length);
        if (!*ret)
            return yfail(y, "scalar is not valid UTF-8", line);
        return 0;
    case YAML_ALIAS_EVENT:
        return yfail(y, "YAML aliases are not supported", line);
    case YAML_SEQUENCE_START_EVENT: {
        json_t *arr = json_array();
        if (!arr)
            return -ENOMEM;
        for (;;) {
            yaml_event_t e;
            int r = next_event(y, &e);
            if (r < 0) {
                json_decref(arr);
                return r;
            }
            if (e.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&e);
                break;
            }
            json_t *item = NULL;
            r = parse_node(y, &e, depth + 1, &item);
            yaml_event_delete(&e);
            if (r < 0 || json_array_append_new(arr, item) < 0) {
                json_decref(arr);
                return r < 0 ? r : -ENOMEM;
            }
        }
        *ret = arr;
        return 0;
    }
    case YAML_MAPPING_START_EVENT: {
        json_t *obj = json_object();
        if (!obj)
            return -ENOMEM;
        for (;;) {
            yaml_event_t k;
            int r = next_event(y, &k);
            if (r < 0) {
                json_decref(obj);
                return r;
            }
            if (k.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&k);
                break;
            }
            if (k.type != YAML_SCALAR_EVENT) {
                size_t kl = k.start_mark.line;
                yaml_event_delete(&k);
                json_decref(obj);
                return yfail(y, "mapping key is not a scalar", kl);
            }
            char *key = strndup((const char *)k.data.scalar.value, k.data.scalar.length);
            yaml_event_delete(&k);
            if (!key) {
                json_decref(obj);
                return -ENOMEM;
            }
            yaml_event_t v;
            r = next_event(y, &v);
            if (r < 0) {
                free(key);
                json_decref(obj);
                return r;
            }
            json_t *val = NULL;
            r = parse_node(y, &v, depth + 1, &val);
            yaml_event_delete(&v);
            if (r < 0 || json_object_set_new(obj, key, val) < 0) {
                free(key);
                json_decref(obj);
                return r < 0 ? r : yfail(y, "invalid mapping key", line);
            }
            free(key);
        }
        *ret = obj;
        return 0;
    }
    default:
        return yfail(y, "unexpected YAML event", line);
    }
}

/* Converts the first document of text to JSON. An empty document gives an empty object. */
static int yaml_to_json(const char *text, size_t n, json_t **ret, struct kube_error *err) {
    struct yconv y = {.err = err};
    if (!yaml_parser_initialize(&y.parser))
        return -ENOMEM;
    yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, n);
    json_t *root = NULL;
    int r = 0;
    for (;;) {
        yaml_event_t ev;
        r = next_event(&y, &ev);
        if (r < 0)
            break;
        if (ev.type == YAML_STREAM_END_EVENT || ev.type == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type == YAML_STREAM_START_EVENT || ev.type == YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        r = parse_node(&y, &ev, 0, &root);
        yaml_event_delete(&ev);
        if (r < 0)
            break;
    }
    yaml_parser_delete(&y.parser);
    if (r < 0) {
        json_decref(root);
        return r;
    }
    if (!root)
        root = json_object();
    if (!json_is_object(root)) {
        json_decref(root);
        kube_error_set(err, 0, NULL, "kubeconfig: top level is not a mapping");
        return -EINVAL;
    }
    *ret = root;
    return 0;
}

/* ---- helpers ----------------------------------------------------------------------------- */

static void wipe_free(char *s, size_t n) {
    if (!s)
        return;
    explicit_bzero(s, n);
    free(s);
}

void kube_config_free(struct kube_config *c) {
    if (!c)
        return;
    free(c->server);
    free(c->context);
    free(c->namespace);
    free(c->ca_file);
    free(c->ca_data);
    free(c->client_cert_file);
    free(c->client_key_file);
    free(c->client_cert_data);
    wipe_free(c->client_key_data, c->client_key_data_len);
    wipe_free(c->token, c->token ? strlen(c->token) : 0);
    free(c->token_file);
    kube_exec_config_free(c->exec);
    free(c);
}

static const char *jstr(const json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

/* Finds {name: NAME, <field>: {...}} in the named list and returns the inner object. */
static json_t *named_entry(json_t *root, const char *list, const char *field, const char *name) {
    json_t *arr = json_object_get(root, list);
    size_t i;
    json_t *e;
    if (!json_is_array(arr))
        return NULL;
    json_array_foreach(arr, i, e) {
        const char *n = jstr(e, "name");
        if (n && strcmp(n, name) == 0) {
            json_t *inner = json_object_get(e, field);
            return json_is_object(inner) ? inner : NULL;
        }
    }
    return NULL;
}

/* Resolves a path relative to dir (kubectl resolves kubeconfig paths against the file). */
static char *resolve(const char *dir, const char *p) {
    if (p[0] == '/' || !dir || !*dir)
        return strdup(p);
    size_t n = strlen(dir) + strlen(p) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", dir, p);
    return s;
}

static int set_path(char **dst, const char *dir, const char *p) {
    if (!p || !*p)
        return 0;
    *dst = resolve(dir, p);
    return *dst ? 0 : -ENOMEM;
}

static int set_data(char **dst, size_t *dst_len, const char *b64, const char *what,
                    struct kube_error *err) {
    if (!b64 || !*b64)
        return 0;
    int r = cm_b64_decode(b64, CM_B64_URLSAFE | CM_B64_SPACES, dst, dst_len);
    if (r == -EINVAL)
        kube_error_set(err, 0, NULL, "kubeconfig: %s is not valid base64", what);
    return r;
}


static int is_true(const char *s) {
    return s && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0 ||
                 strcmp(s, "yes") == 0 || strcmp(s, "on") == 0);
}

/* users[].user.exec → c->exec. The program is resolved against the kubeconfig's directory
 * when it names a relative path ("./bin/login"), as kubectl does; a bare name goes via PATH. */
static int exec_from_tree(json_t *ex, const char *dir, const char *user,
                          struct kube_exec_config **ret, struct kube_error *err) {
    const char *cmd = jstr(ex, "command"), *av = jstr(ex, "apiVersion");
    const char *mode = jstr(ex, "interactiveMode");
    json_t *args = json_object_get(ex, "args"), *env = json_object_get(ex, "env"), *v;
    size_t i;

    if (!cmd || !*cmd) {
        kube_error_set(err, 0, NULL, "kubeconfig: user \"%s\": exec has no command", user);
        return -EINVAL;
    }
    if (!av || (strcmp(av, "client.authentication.k8s.io/v1") != 0 &&
                strcmp(av, "client.authentication.k8s.io/v1beta1") != 0)) {
        kube_error_set(err, 0, NULL,
                       "kubeconfig: user \"%s\": exec apiVersion must be "
                       "client.authentication.k8s.io/v1 or v1beta1", user);
        return -EINVAL;
    }
    if (mode && strcmp(mode, "Always") == 0) {
        kube_error_set(err, 0, NULL,
                       "kubeconfig: user \"%s\": exec plugin needs a terminal "
                       "(interactiveMode: Always) and this program has none", user);
        return -EOPNOTSUPP;
    }
    if ((args && !json_is_array(args)) || (env && !json_is_array(env))) {
        kube_error_set(err, 0, NULL, "kubeconfig: user \"%s\": exec args and env must be lists",
                       user);
        return -EINVAL;
    }
    struct kube_exec_config *x = calloc(1, sizeof(*x));
    if (!x)
        return -ENOMEM;
    *ret = x; /* freed with the config on any error below */
    x->args = calloc(json_array_size(args) + 1, sizeof(char *));
    x->env = calloc(json_array_size(env) + 1, sizeof(char *));
    x->command = strchr(cmd, '/') ? resolve(dir, cmd) : strdup(cmd);
    x->api_version = strdup(av);
    json_t *pci = json_object_get(ex, "provideClusterInfo");
    x->provide_cluster_info = json_is_true(pci) || is_true(json_string_value(pci));
    if (!x->args || !x->env || !x->command || !x->api_version)
        return -ENOMEM;
    json_array_foreach(args, i, v) {
        if (!json_is_string(v)) {
            kube_error_set(err, 0, NULL, "kubeconfig: user \"%s\": exec args[%zu] is not a "
                           "string", user, i);
            return -EINVAL;
        }
        if (!(x->args[x->n_args++] = strdup(json_string_value(v))))
            return -ENOMEM;
    }
    json_array_foreach(env, i, v) {
        const char *name = jstr(v, "name"), *val = jstr(v, "value");
        if (!name || !*name || strchr(name, '=') || !val) {
            kube_error_set(err, 0, NULL,
                           "kubeconfig: user \"%s\": exec env[%zu] needs a name and a value",
                           user, i);
            return -EINVAL;
        }
        size_t n = strlen(name) + strlen(val) + 2;
        if (!(x->env[x->n_env] = malloc(n)))
            return -ENOMEM;
        snprintf(x->env[x->n_env++], n, "%s=%s", name, val);
    }
    return 0;
}

/* ---- kubeconfig ------------------------------------------------------------------------ */

static int from_tree(json_t *root, const char *dir, const char *context, struct kube_config *c,
                     struct kube_error *err) {
    const char *ctx_name = context ? context : jstr(root, "current-context");
    if (!ctx_name || !*ctx_name) {
        kube_error_set(err, 0, NULL, "kubeconfig: no current-context set and no context given");
        return -EINVAL;
    }
    json_t *ctx = named_entry(root, "contexts", "context", ctx_name);
    if (!ctx) {
        kube_error_set(err, 0, NULL, "kubeconfig: context \"%s\" not found", ctx_name);
        return -EINVAL;
    }
    if (!(c->context = strdup(ctx_name)))
        return -ENOMEM;
    const char *cl_name = jstr(ctx, "cluster");
    json_t *cl = cl_name ? named_entry(root, "clusters", "cluster", cl_name) : NULL;
    if (!cl) {
        kube_error_set(err, 0, NULL, "kubeconfig: cluster \"%s\" of context \"%s\" not found",
                       cl_name ? cl_name : "", ctx_name);
        return -EINVAL;
    }
    const char *server = jstr(cl, "server");
    if (!server || !*server) {
        kube_error_set(err, 0, NULL, "kubeconfig: cluster \"%s\" has no server", cl_name);
        return -EINVAL;
    }
    if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0) {
        kube_error_set(err, 0, NULL, "kubeconfig: server of cluster \"%s\" is not an http(s) URL",
                       cl_name);
        return -EINVAL;
    }
    if (!(c->server = strdup(server)))
        return -ENOMEM;
    size_t sl = strlen(c->server);
    while (sl > 0 && c->server[sl - 1] == '/')
        c->server[--sl] = '\0';
    const char *ns = jstr(ctx, "namespace");
    if (!(c->namespace = strdup(ns && *ns ? ns : "default")))
        return -ENOMEM;
    int r0;
    if ((r0 = set_path(&c->ca_file, dir, jstr(cl, "certificate-authority"))) < 0 ||
        (r0 = set_data(&c->ca_data, &c->ca_data_len, jstr(cl, "certificate-authority-data"),
                       "certificate-authority-data", err)) < 0)
        return r0;
    c->insecure_skip_tls_verify = is_true(jstr(cl, "insecure-skip-tls-verify"));

    const char *user_name = jstr(ctx, "user");
    if (!user_name || !*user_name)
        return 0; /* anonymous */
    json_t *u = named_entry(root, "users", "user", user_name);
    if (!u) {
        kube_error_set(err, 0, NULL, "kubeconfig: user \"%s\" of context \"%s\" not found",
                       user_name, ctx_name);
        return -EINVAL;
    }
    if (json_object_get(u, "auth-provider")) {
        /* Removed from kubectl itself (1.26): the providers moved to exec plugins. */
        kube_error_set(err, 0, NULL,
                       "kubeconfig: user \"%s\": auth-provider is not supported; use the "
                       "provider's exec plugin", user_name);
        return -EOPNOTSUPP;
    }
    int r;
    json_t *ex = json_object_get(u, "exec");
    if (ex && (r = exec_from_tree(ex, dir, user_name, &c->exec, err)) < 0)
        return r;
    const char *tok = jstr(u, "token");
    if (tok && *tok && !(c->token = strdup(tok)))
        return -ENOMEM;
    if ((r = set_path(&c->token_file, dir, jstr(u, "tokenFile"))) < 0 ||
        (r = set_path(&c->client_cert_file, dir, jstr(u, "client-certificate"))) < 0 ||
        (r = set_path(&c->client_key_file, dir, jstr(u, "client-key"))) < 0 ||
        (r = set_data(&c->client_cert_data, &c->client_cert_data_len,
                      jstr(u, "client-certificate-data"), "client-certificate-data", err)) < 0 ||
        (r = set_data(&c->client_key_data, &c->client_key_data_len, jstr(u, "client-key-data"),
                      "client-key-data", err)) < 0)
        return r;
    int has_cert = c->client_cert_file || c->client_cert_data;
    int has_key = c->client_key_file || c->client_key_data;
    if (has_cert != has_key) {
        kube_error_set(err, 0, NULL,
                       "kubeconfig: user \"%s\" has a client certificate without a key or a key "
                       "without a certificate", user_name);
        return -EINVAL;
    }
    return 0;
}

/* Wipes the secrets a kubeconfig tree holds as plain strings, then frees it. */
static void tree_free(json_t *root) {
    json_t *users = json_object_get(root, "users"), *e, *v;
    size_t i, j;
    json_array_foreach(users, i, e) {
        json_t *u = json_object_get(e, "user");
        const char *keys[] = {"token", "client-key-data", "password"};
        for (size_t k = 0; k < 3; k++) {
            const char *s = jstr(u, keys[k]);
            if (s)
                explicit_bzero((char *)s, strlen(s));
        }
        json_array_foreach(json_object_get(json_object_get(u, "exec"), "env"), j, v) {
            const char *s = jstr(v, "value");
            if (s)
                explicit_bzero((char *)s, strlen(s));
        }
    }
    json_decref(root);
}

static int absolutize_key(json_t *o, const char *key, const char *dir, int only_with_slash) {
    const char *p = jstr(o, key);
    if (!p || !*p || p[0] == '/' || (only_with_slash && !strchr(p, '/')))
        return 0;
    char *abs = resolve(dir, p);
    if (!abs || json_object_set_new(o, key, json_string(abs)) < 0) {
        free(abs);
        return -ENOMEM;
    }
    free(abs);
    return 0;
}

/* Makes one file's relative paths absolute (kubectl resolves them against the file that names
 * them), so that entries merged from several files still point where their file meant. */
static int absolutize(json_t *root, const char *dir) {
    json_t *e;
    size_t i;
    int r = 0;
    if (!dir || !*dir)
        return 0;
    json_array_foreach(json_object_get(root, "clusters"), i, e)
        if ((r = absolutize_key(json_object_get(e, "cluster"), "certificate-authority", dir, 0)) < 0)
            return r;
    json_array_foreach(json_object_get(root, "users"), i, e) {
        json_t *u = json_object_get(e, "user");
        if ((r = absolutize_key(u, "client-certificate", dir, 0)) < 0 ||
            (r = absolutize_key(u, "client-key", dir, 0)) < 0 ||
            (r = absolutize_key(u, "tokenFile", dir, 0)) < 0 ||
            (r = absolutize_key(json_object_get(u, "exec"), "command", dir, 1)) < 0)
            return r;
    }
    return 0;
}

/* Builds the config from a tree whose paths are absolute; consumes root. */
static int config_from_root(json_t *root, const char *context, struct kube_config **ret_cfg,
                            struct kube_error *err) {
    struct kube_config *c = calloc(1, sizeof(*c));
    if (!c) {
        tree_free(root);
        return -ENOMEM;
    }
    int r = from_tree(root, NULL, context, c, err);
    tree_free(root);
    if (r < 0) {
        kube_config_free(c);
        return r;
    }
    *ret_cfg = c;
    return 0;
}

int kube_config_load_data(const char *text, size_t n, const char *dir, const char *context,
                          struct kube_config **ret_cfg, struct kube_error *err) {
    json_t *root = NULL;
    int r = yaml_to_json(text, n, &root, err);
    if (r < 0)
        return r;
    if ((r = absolutize(root, dir)) < 0) {
        tree_free(root);
        return r;
    }
    return config_from_root(root, context, ret_cfg, err);
}

/* Reads a whole (small) file, naming it in the error. */
static int read_file(const char *path, size_t cap, char **ret, size_t *ret_len,
                     struct kube_error *err) {
    int r = cm_file_read(path, cap, ret, ret_len, NULL);
    if (r < 0)
        kube_error_set(err, 0, NULL, "cannot read %s: %s", path,
                       r == -E2BIG ? "file too large" : strerror(-r));
    return r;
}

/* "kubeconfig: what" → "PATH: what", so that the message says which file is wrong. */
static void prefix_path(struct kube_error *err, const char *path) {
    if (!err || !err->message || strncmp(err->message, "kubeconfig:", 11) != 0)
        return;
    char *m = err->message;
    size_t len = strlen(path) + strlen(m) + 4;
    err->message = malloc(len);
    if (err->message)
        snprintf(err->message, len, "%s: %s", path, m + 12);
    free(m);
}

/* One file as a tree with absolute paths. */
static int file_tree(const char *path, json_t **ret_root, struct kube_error *err) {
    char *text = NULL;
    size_t n = 0;
    int r = read_file(path, KUBECONFIG_MAX, &text, &n, err);
    if (r < 0)
        return r;
    char *dir = strdup(path);
    if (!dir) {
        wipe_free(text, n);
        return -ENOMEM;
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        dir[0] = '\0';
    json_t *root = NULL;
    r = yaml_to_json(text, n, &root, err);
    wipe_free(text, n);
    if (r == 0 && (r = absolutize(root, dir)) < 0)
        tree_free(root);
    free(dir);
    if (r < 0) {
        prefix_path(err, path);
        return r;
    }
    *ret_root = root;
    return 0;
}

int kube_config_load_file(const char *path, const char *context, struct kube_config **ret_cfg,
                          struct kube_error *err) {
    json_t *root = NULL;
    int r = file_tree(path, &root, err);
    if (r < 0)
        return r;
    r = config_from_root(root, context, ret_cfg, err);
    if (r < 0)
        prefix_path(err, path);
    return r;
}

static int has_name(const json_t *list, const char *name) {
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        const char *n = jstr(e, "name");
        if (n && strcmp(n, name) == 0)
            return 1;
    }
    return 0;
}

/* kubectl's merge of a KUBECONFIG list: the first file to name a cluster, user or context, and
 * the first to set current-context, wins. */
static int merge_tree(json_t *dst, json_t *src) {
    const char *cur = jstr(dst, "current-context"), *scur = jstr(src, "current-context");
    if ((!cur || !*cur) && scur && *scur &&
        json_object_set_new(dst, "current-context", json_string(scur)) < 0)
        return -ENOMEM;
    const char *lists[] = {"clusters", "users", "contexts"};
    for (size_t l = 0; l < 3; l++) {
        json_t *sl = json_object_get(src, lists[l]), *dl = json_object_get(dst, lists[l]), *e;
        size_t i;
        if (!json_is_array(sl))
            continue;
        if (!json_is_array(dl)) {
            if (json_object_set_new(dst, lists[l], json_array()) < 0)
                return -ENOMEM;
            dl = json_object_get(dst, lists[l]);
        }
        json_array_foreach(sl, i, e) {
            const char *n = jstr(e, "name");
            if (n && !has_name(dl, n) && json_array_append(dl, e) < 0)
                return -ENOMEM;
        }
    }
    return 0;
}

/* A colon-separated KUBECONFIG: files that do not exist are skipped, as kubectl does. */
static int load_list(const char *list, const char *context, struct kube_config **ret_cfg,
                     struct kube_error *err) {
    json_t *merged = json_object();
    int r = 0, found = 0;
    if (!merged)
        return -ENOMEM;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ":");
        char *path = strndup(p, n);
        p += n + (p[n] == ':');
        if (!path) {
            r = -ENOMEM;
            break;
        }
        json_t *root = NULL;
        if (!*path || (access(path, F_OK) < 0 && errno == ENOENT)) {
            free(path);
            continue;
        }
        r = file_tree(path, &root, err);
        free(path);
        if (r < 0)
            break;
        found = 1;
        r = merge_tree(merged, root);
        tree_free(root);
        if (r < 0)
            break;
    }
    if (r == 0 && !found) {
        kube_error_set(err, 0, NULL, "no kubeconfig: none of the files in KUBECONFIG exists");
        r = -ENOENT;
    }
    if (r < 0) {
        tree_free(merged);
        return r;
    }
    return config_from_root(merged, context, ret_cfg, err);
}

int kube_config_load_in_cluster(const char *base_dir, struct kube_config **ret_cfg,
                                struct kube_error *err) {
    const char *base = base_dir ? base_dir : KUBE_IN_CLUSTER_DIR;
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port) {
        kube_error_set(err, 0, NULL,
                       "not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set");
        return -ENOENT;
    }
    struct kube_config *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    int r = -ENOMEM;
    struct cm_buf b;
    cm_buf_init(&b, 0);
    int v6 = strchr(host, ':') != NULL;
    if (cm_buf_printf(&b, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port) < 0 ||
        !(c->server = cm_buf_steal(&b)))
        goto fail;
    cm_buf_done(&b);
    cm_buf_init(&b, 0);
    if (cm_buf_printf(&b, "%s/token", base) < 0 || !(c->token_file = cm_buf_steal(&b)))
        goto fail;
    if (access(c->token_file, R_OK) < 0) {
        r = -errno;
        kube_error_set(err, 0, NULL, "in-cluster token %s: %s", c->token_file, strerror(-r));
        goto fail;
    }
    cm_buf_done(&b);
    cm_buf_init(&b, 0);
    if (cm_buf_printf(&b, "%s/ca.crt", base) < 0 || !(c->ca_file = cm_buf_steal(&b)))
        goto fail;
    cm_buf_done(&b);
    cm_buf_init(&b, 0);
    char *ns_text = NULL;
    size_t ns_len = 0;
    if (cm_buf_printf(&b, "%s/namespace", base) < 0)
        goto fail;
    if (read_file(b.data, 4096, &ns_text, &ns_len, NULL) == 0) {
        while (ns_len > 0 && (ns_text[ns_len - 1] == '\n' || ns_text[ns_len - 1] == ' ' ||
                              ns_text[ns_len - 1] == '\r'))
            ns_text[--ns_len] = '\0';
        if (ns_len > 0)
            c->namespace = ns_text;
        else
            free(ns_text);
    }
    if (!c->namespace && !(c->namespace = strdup("default")))
        goto fail;
    cm_buf_done(&b);
    *ret_cfg = c;
    return 0;
fail:
    cm_buf_done(&b);
    kube_config_free(c);
    return r;
}

int kube_config_load_default(const char *explicit_path, const char *context,
                             struct kube_config **ret_cfg, struct kube_error *err) {
    if (explicit_path && *explicit_path)
        return kube_config_load_file(explicit_path, context, ret_cfg, err);
    const char *env = getenv("KUBECONFIG");
    if (env && *env)
        return strchr(env, ':') ? load_list(env, context, ret_cfg, err)
                                : kube_config_load_file(env, context, ret_cfg, err);
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    if (host && *host)
        return kube_config_load_in_cluster(NULL, ret_cfg, err);
    const char *home = getenv("HOME");
    if (!home || !*home) {
        kube_error_set(err, 0, NULL, "no kubeconfig: KUBECONFIG and HOME are not set");
        return -ENOENT;
    }
    size_t len = strlen(home) + 20;
    char *p = malloc(len);
    if (!p)
        return -ENOMEM;
    snprintf(p, len, "%s/.kube/config", home);
    int r = kube_config_load_file(p, context, ret_cfg, err);
    free(p);
    return r;
}
