/* Two passes over argv: the first finds the config file (and --help), the file is applied as
 * defaults, the second pass applies every flag on top. That ordering is REF's precedence rule
 * (file values are defaults, scalar flags override, lists append) without REF's crashes. */
#include "shim_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cm_log.h"

void shim_config_usage(FILE *f) {
    fputs(
        "Usage: commissaire-shim [OPTIONS]\n"
        "\n"
        "Serves the Commissaire REST API v0 over the commissaire.io custom resources.\n"
        "\n"
        "Options compatible with commissaire-server:\n"
        "  -c, --config-file PATH     JSON config file (default " SHIM_CONFIG_DEFAULT_FILE
        " if it exists;\n"
        "                             a file named here must exist)\n"
        "      --no-config-file       do not read any config file\n"
        "  -i, --listen-interface ADDR  address to listen on (default 0.0.0.0)\n"
        "  -p, --listen-port N        TCP port (default 8000; 0 picks a free port)\n"
        "      --tls-pemfile PATH     enable TLS; PEM file with the certificate and its key\n"
        "      --tls-clientverifyfile PATH  CA bundle; clients must present a certificate it\n"
        "                             verifies (needs --tls-pemfile)\n"
        "      --authentication-plugin MODULE[:key=value,...]  (repeatable, chained in order)\n"
        "                             built-ins: httpbasicauth (filepath=USERS.json),\n"
        "                             httpauthclientcert (cn=NAME), kubernetes (TokenReview);\n"
        "                             the commissaire_http.authentication. prefix is accepted;\n"
        "                             a path to a .so loads an external plug-in\n"
        "      --self-auth PATH       exact request path that needs no authentication (repeatable)\n"
        "      --debug                debug logging\n"
        "      --bus-exchange NAME    accepted for compatibility; unused (no message bus)\n"
        "      --bus-uri URI          accepted for compatibility; unused (no message bus)\n"
        "\n"
        "Options of the shim:\n"
        "      --kubeconfig PATH      kubeconfig for the API server (default $KUBECONFIG,\n"
        "                             ~/.kube/config, or in-cluster)\n"
        "      --namespace NS         namespace of the commissaire objects (default commissaire)\n"
        "      --trusted-proxy CIDR   X-Forwarded-For is believed only from these peers (repeatable)\n"
        "      --log-format text|json log line format (default text)\n"
        "      --metrics, --no-metrics  serve /metrics (default on)\n"
        "      --workers N            threads for blocking work: writes, bcrypt, TokenReview (4)\n"
        "      --header-timeout SEC   time allowed to send a request's headers and body (10)\n"
        "      --idle-timeout SEC     keep-alive idle limit (30)\n"
        "      --port-file PATH       write the bound port to PATH once listening\n"
        "      --auth-failure-burst N failed authentications per client before its answers are\n"
        "                             delayed (5); the delay grows with further failures\n"
        "      --auth-failure-rate N  failures per second a client earns back (1)\n"
        "  -h, --help                 this text\n"
        "      --version              print the version\n"
        "\n"
        "Config file keys: listen-interface, listen-port, tls-pemfile, tls-clientverifyfile,\n"
        "authentication-plugins ([{\"name\": MODULE, option: value, ...}]), self-auths, debug,\n"
        "bus-exchange, bus-uri, kubeconfig, namespace, trusted-proxies, log-format, metrics,\n"
        "workers, header-timeout, idle-timeout. Unauthenticated: /healthz, /readyz, /metrics.\n",
        f);
}

static void set_err(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t n, const char *fmt, ...) {
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

static int set_str(char **dst, const char *v) {
    char *c = strdup(v);

    if (!c)
        return -ENOMEM;
    free(*dst);
    *dst = c;
    return 0;
}

static int strv_push(char ***v, size_t *n, const char *s) {
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);

    if (!nv)
        return -ENOMEM;
    *v = nv;
    if (!(nv[*n] = strdup(s)))
        return -ENOMEM;
    (*n)++;
    return 0;
}

static int plugin_push(struct shim_config *c, const char *module, json_t *opts_stolen) {
    struct shim_auth_spec *nv = realloc(c->plugins, (c->n_plugins + 1) * sizeof *nv);

    if (!nv) {
        json_decref(opts_stolen);
        return -ENOMEM;
    }
    c->plugins = nv;
    nv[c->n_plugins].module = strdup(module);
    nv[c->n_plugins].options = opts_stolen;
    if (!nv[c->n_plugins].module) {
        json_decref(opts_stolen);
        return -ENOMEM;
    }
    c->n_plugins++;
    return 0;
}

static int trusted_push(struct shim_config *c, const char *cidr, char *err, size_t n_err) {
    struct shim_cidr x, *nv;

    if (shim_cidr_parse(cidr, &x) < 0) {
        set_err(err, n_err, "--trusted-proxy: '%s' is not an address or CIDR range", cidr);
        return -EINVAL;
    }
    nv = realloc(c->trusted, (c->n_trusted + 1) * sizeof *nv);
    if (!nv)
        return -ENOMEM;
    c->trusted = nv;
    nv[c->n_trusted++] = x;
    return 0;
}

static int parse_int(const char *s, long lo, long hi, int *ret) {
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -EINVAL;
    *ret = (int)v;
    return 0;
}

static int parse_bool(const char *s, bool *ret) {
    if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "yes") || !strcmp(s, "on"))
        *ret = true;
    else if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "no") || !strcmp(s, "off"))
        *ret = false;
    else
        return -EINVAL;
    return 0;
}

json_t *shim_config_normalize_keys(const json_t *v) {
    json_t *o;
    const char *k;
    json_t *e;

    if (!json_is_object(v))
        return json_deep_copy(v);
    o = json_object();
    if (!o)
        return NULL;
    json_object_foreach((json_t *)v, k, e) {
        char *nk = strdup(k);
        json_t *ne = shim_config_normalize_keys(e);

        if (!nk || !ne) {
            free(nk);
            json_decref(ne);
            json_decref(o);
            return NULL;
        }
        for (char *p = nk; *p; p++)
            if (*p == '-')
                *p = '_';
        json_object_set_new(o, nk, ne);
        free(nk);
    }
    return o;
}

int shim_config_parse_plugin(const char *spec, struct shim_auth_spec *ret) {
    const char *colon = strchr(spec, ':');
    char *module, *rest = NULL, *item, *save = NULL;
    json_t *opts = json_object();

    if (!opts)
        return -ENOMEM;
    module = colon ? strndup(spec, (size_t)(colon - spec)) : strdup(spec);
    if (!module || !*module) {
        free(module);
        json_decref(opts);
        return -EINVAL;
    }
    if (colon) {
        rest = strdup(colon + 1);
        if (!rest) {
            free(module);
            json_decref(opts);
            return -ENOMEM;
        }
        for (item = strtok_r(rest, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(item, '=');

            if (!eq)
                continue; /* REF ignores items without '=' */
            *eq = 0;
            json_object_set_new(opts, item, json_string(eq + 1));
        }
        free(rest);
    }
    ret->module = module;
    ret->options = opts;
    return 0;
}

static int file_str(json_t *f, const char *key, char **dst, char *err, size_t n_err) {
    json_t *v = json_object_get(f, key);

    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        set_err(err, n_err, "config file: '%s' must be a string", key);
        return -EINVAL;
    }
    return set_str(dst, json_string_value(v));
}

static int file_int(json_t *f, const char *key, long lo, long hi, int *dst, char *err,
                    size_t n_err) {
    json_t *v = json_object_get(f, key);

    if (!v || json_is_null(v))
        return 0;
    /* REF keeps file values untyped ("8000" stays a string); accept both forms. */
    if (json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi) {
        *dst = (int)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v) && parse_int(json_string_value(v), lo, hi, dst) == 0)
        return 0;
    set_err(err, n_err, "config file: '%s' must be an integer in %ld..%ld", key, lo, hi);
    return -EINVAL;
}

static int file_bool(json_t *f, const char *key, bool *dst, char *err, size_t n_err) {
    json_t *v = json_object_get(f, key);

    if (!v || json_is_null(v))
        return 0;
    if (json_is_boolean(v)) {
        *dst = json_is_true(v);
        return 0;
    }
    if (json_is_string(v) && parse_bool(json_string_value(v), dst) == 0)
        return 0;
    set_err(err, n_err, "config file: '%s' must be a boolean", key);
    return -EINVAL;
}

static int file_strv(json_t *f, const char *key, char ***v, size_t *n, char *err, size_t n_err) {
    json_t *a = json_object_get(f, key), *e;
    size_t i;

    if (!a || json_is_null(a))
        return 0;
    if (json_is_string(a))
        return strv_push(v, n, json_string_value(a));
    if (!json_is_array(a)) {
        set_err(err, n_err, "config file: '%s' must be an array of strings", key);
        return -EINVAL;
    }
    json_array_foreach(a, i, e) {
        if (!json_is_string(e)) {
            set_err(err, n_err, "config file: '%s' must be an array of strings", key);
            return -EINVAL;
        }
        if (strv_push(v, n, json_string_value(e)) < 0)
            return -ENOMEM;
    }
    return 0;
}

static const char *const known_keys[] = {
    "listen_interface", "listen_port", "tls_pemfile", "tls_clientverifyfile",
    "authentication_plugins", "self_auths", "debug", "bus_exchange", "bus_uri", "logging",
    "kubeconfig", "namespace", "trusted_proxies", "log_format", "metrics", "workers",
    "header_timeout", "idle_timeout", "port_file", "auth_failure_burst", "auth_failure_rate", NULL,
};

static int apply_file(struct shim_config *c, const char *path, char *err, size_t n_err) {
    json_error_t jerr;
    json_t *raw = json_load_file(path, 0, &jerr), *f = NULL, *a, *e;
    char **tp = NULL;
    size_t ntp = 0, i;
    const char *k;
    json_t *v;
    int rc = -EINVAL;

    if (!raw) {
        set_err(err, n_err, "config file %s: %s", path, jerr.text);
        return -EINVAL;
    }
    if (!json_is_object(raw)) {
        set_err(err, n_err, "config file %s: not a JSON object", path);
        goto out;
    }
    f = shim_config_normalize_keys(raw);
    if (!f) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = file_str(f, "listen_interface", &c->listen_interface, err, n_err)) < 0 ||
        (rc = file_int(f, "listen_port", 0, 65535, &c->listen_port, err, n_err)) < 0 ||
        (rc = file_str(f, "tls_pemfile", &c->tls_pemfile, err, n_err)) < 0 ||
        (rc = file_str(f, "tls_clientverifyfile", &c->tls_clientverifyfile, err, n_err)) < 0 ||
        (rc = file_bool(f, "debug", &c->debug, err, n_err)) < 0 ||
        (rc = file_str(f, "bus_exchange", &c->bus_exchange, err, n_err)) < 0 ||
        (rc = file_str(f, "bus_uri", &c->bus_uri, err, n_err)) < 0 ||
        (rc = file_str(f, "kubeconfig", &c->kubeconfig, err, n_err)) < 0 ||
        (rc = file_str(f, "namespace", &c->namespace_, err, n_err)) < 0 ||
        (rc = file_str(f, "log_format", &c->log_format, err, n_err)) < 0 ||
        (rc = file_str(f, "port_file", &c->port_file, err, n_err)) < 0 ||
        (rc = file_bool(f, "metrics", &c->metrics, err, n_err)) < 0 ||
        (rc = file_int(f, "workers", 1, 64, &c->workers, err, n_err)) < 0 ||
        (rc = file_int(f, "header_timeout", 1, 3600, &c->header_timeout_s, err, n_err)) < 0 ||
        (rc = file_int(f, "idle_timeout", 1, 86400, &c->idle_timeout_s, err, n_err)) < 0 ||
        (rc = file_int(f, "auth_failure_burst", 1, 1000000, &c->auth_fail_burst, err, n_err)) < 0 ||
        (rc = file_int(f, "auth_failure_rate", 1, 1000000, &c->auth_fail_rate, err, n_err)) < 0 ||
        (rc = file_strv(f, "self_auths", &c->self_auths, &c->n_self_auths, err, n_err)) < 0 ||
        (rc = file_strv(f, "trusted_proxies", &tp, &ntp, err, n_err)) < 0)
        goto out;
    for (i = 0; i < ntp; i++)
        if ((rc = trusted_push(c, tp[i], err, n_err)) < 0)
            goto out;
    a = json_object_get(f, "authentication_plugins");
    if (a && !json_is_array(a)) {
        set_err(err, n_err, "config file: 'authentication-plugins' must be an array of objects");
        rc = -EINVAL;
        goto out;
    }
    json_array_foreach(a, i, e) {
        json_t *name = json_object_get(e, "name"), *opts;

        if (!json_is_object(e) || !json_is_string(name)) {
            set_err(err, n_err, "config file: authentication-plugins[%zu] has no \"name\"", i);
            rc = -EINVAL;
            goto out;
        }
        opts = json_deep_copy(e);
        if (!opts) {
            rc = -ENOMEM;
            goto out;
        }
        json_object_del(opts, "name");
        if ((rc = plugin_push(c, json_string_value(name), opts)) < 0)
            goto out;
    }
    json_object_foreach(f, k, v) {
        int known = 0;

        for (i = 0; known_keys[i]; i++)
            known |= strcmp(known_keys[i], k) == 0;
        if (!known) {
            char msg[300];

            snprintf(msg, sizeof msg, "config file key '%s' is not used", k);
            if ((rc = strv_push(&c->warnings, &c->n_warnings, msg)) < 0)
                goto out;
        }
    }
    rc = set_str(&c->config_file, path);
out:
    for (i = 0; i < ntp; i++)
        free(tp[i]);
    free(tp);
    json_decref(f);
    json_decref(raw);
    return rc;
}

/* Matches "--name VALUE", "--name=VALUE" or a short alias "-x VALUE"; advances *i. */
static int opt_value(int argc, char *const *argv, int *i, const char *longname, const char *shortname,
                     const char **ret, char *err, size_t n_err) {
    const char *a = argv[*i];
    size_t ln = strlen(longname);

    if (strncmp(a, longname, ln) == 0 && a[ln] == '=') {
        *ret = a + ln + 1;
        return 1;
    }
    if (strcmp(a, longname) != 0 && !(shortname && strcmp(a, shortname) == 0))
        return 0;
    if (*i + 1 >= argc) {
        set_err(err, n_err, "%s needs a value", longname);
        return -EINVAL;
    }
    *ret = argv[++*i];
    return 1;
}

void shim_config_done(struct shim_config *c) {
    if (!c)
        return;
    free(c->config_file);
    free(c->listen_interface);
    free(c->port_file);
    free(c->tls_pemfile);
    free(c->tls_clientverifyfile);
    for (size_t i = 0; i < c->n_plugins; i++) {
        free(c->plugins[i].module);
        json_decref(c->plugins[i].options);
    }
    free(c->plugins);
    for (size_t i = 0; i < c->n_self_auths; i++)
        free(c->self_auths[i]);
    free(c->self_auths);
    free(c->bus_uri);
    free(c->bus_exchange);
    free(c->kubeconfig);
    free(c->namespace_);
    free(c->trusted);
    free(c->log_format);
    for (size_t i = 0; i < c->n_warnings; i++)
        free(c->warnings[i]);
    free(c->warnings);
    memset(c, 0, sizeof *c);
}

int shim_config_load(int argc, char *const *argv, FILE *out, struct shim_config *ret, char *err,
                     size_t n_err) {
    struct shim_config c = { 0 };
    const char *file = NULL, *v;
    bool no_file = false, explicit_file = false;
    int rc = -ENOMEM, i, m;

    c.listen_port = 8000;
    c.metrics = true;
    c.workers = 4;
    c.header_timeout_s = 10;
    c.idle_timeout_s = 30;
    c.auth_fail_burst = 5;
    c.auth_fail_rate = 1;
    if (set_str(&c.listen_interface, "0.0.0.0") < 0 || set_str(&c.namespace_, "commissaire") < 0 ||
        set_str(&c.log_format, "text") < 0)
        goto out;

    /* Pass 1: help, version, and which config file. */
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            shim_config_usage(out);
            rc = 1;
            goto out;
        }
        if (!strcmp(argv[i], "--version")) {
            fputs("commissaire-shim 0.1.0 (Commissaire REST API v0)\n", out);
            rc = 1;
            goto out;
        }
        if (!strcmp(argv[i], "--no-config-file"))
            no_file = true;
        else if ((m = opt_value(argc, argv, &i, "--config-file", "-c", &v, err, n_err)) != 0) {
            if (m < 0) {
                rc = m;
                goto out;
            }
            file = v;
            explicit_file = true;
        }
    }
    if (!no_file) {
        if (!file && access(SHIM_CONFIG_DEFAULT_FILE, F_OK) == 0)
            file = SHIM_CONFIG_DEFAULT_FILE;
        if (explicit_file && access(file, R_OK) != 0) {
            set_err(err, n_err, "config file %s: %s", file, strerror(errno));
            rc = -EINVAL;
            goto out;
        }
        if (file && (rc = apply_file(&c, file, err, n_err)) < 0)
            goto out;
    }

    /* Pass 2: every flag over the file's values. */
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

#define VALUE(l, s) ((m = opt_value(argc, argv, &i, (l), (s), &v, err, n_err)) != 0)
        if (!strcmp(a, "--no-config-file")) {
            continue;
        } else if (VALUE("--config-file", "-c")) {
            if (m < 0)
                goto bad;
        } else if (!strcmp(a, "--debug")) {
            c.debug = true;
        } else if (!strcmp(a, "--metrics")) {
            c.metrics = true;
        } else if (!strcmp(a, "--no-metrics")) {
            c.metrics = false;
        } else if (VALUE("--metrics", NULL)) {
            if (m < 0 || parse_bool(v, &c.metrics) < 0) {
                set_err(err, n_err, "--metrics takes true or false");
                goto bad;
            }
        } else if (VALUE("--listen-interface", "-i")) {
            if (m < 0 || (rc = set_str(&c.listen_interface, v)) < 0)
                goto bad;
        } else if (VALUE("--listen-port", "-p")) {
            if (m < 0 || parse_int(v, 0, 65535, &c.listen_port) < 0) {
                set_err(err, n_err, "--listen-port must be a port number (0..65535)");
                goto bad;
            }
        } else if (VALUE("--port-file", NULL)) {
            if (m < 0 || (rc = set_str(&c.port_file, v)) < 0)
                goto bad;
        } else if (VALUE("--tls-pemfile", NULL)) {
            if (m < 0 || (rc = set_str(&c.tls_pemfile, v)) < 0)
                goto bad;
        } else if (VALUE("--tls-clientverifyfile", NULL)) {
            if (m < 0 || (rc = set_str(&c.tls_clientverifyfile, v)) < 0)
                goto bad;
        } else if (VALUE("--authentication-plugin", NULL)) {
            struct shim_auth_spec s;

            if (m < 0)
                goto bad;
            if (shim_config_parse_plugin(v, &s) < 0) {
                set_err(err, n_err, "--authentication-plugin: bad value '%s'", v);
                goto bad;
            }
            if ((rc = plugin_push(&c, s.module, s.options)) < 0) {
                free(s.module);
                goto out;
            }
            free(s.module);
        } else if (VALUE("--self-auth", NULL)) {
            if (m < 0 || (rc = strv_push(&c.self_auths, &c.n_self_auths, v)) < 0)
                goto bad;
        } else if (VALUE("--bus-exchange", NULL)) {
            if (m < 0 || (rc = set_str(&c.bus_exchange, v)) < 0)
                goto bad;
        } else if (VALUE("--bus-uri", NULL)) {
            if (m < 0 || (rc = set_str(&c.bus_uri, v)) < 0)
                goto bad;
        } else if (VALUE("--kubeconfig", NULL)) {
            if (m < 0 || (rc = set_str(&c.kubeconfig, v)) < 0)
                goto bad;
        } else if (VALUE("--namespace", NULL)) {
            if (m < 0 || (rc = set_str(&c.namespace_, v)) < 0)
                goto bad;
        } else if (VALUE("--trusted-proxy", NULL)) {
            if (m < 0 || trusted_push(&c, v, err, n_err) < 0)
                goto bad;
        } else if (VALUE("--log-format", NULL)) {
            if (m < 0 || (rc = set_str(&c.log_format, v)) < 0)
                goto bad;
        } else if (VALUE("--workers", NULL)) {
            if (m < 0 || parse_int(v, 1, 64, &c.workers) < 0) {
                set_err(err, n_err, "--workers must be 1..64");
                goto bad;
            }
        } else if (VALUE("--header-timeout", NULL)) {
            if (m < 0 || parse_int(v, 1, 3600, &c.header_timeout_s) < 0) {
                set_err(err, n_err, "--header-timeout must be 1..3600 seconds");
                goto bad;
            }
        } else if (VALUE("--auth-failure-burst", NULL)) {
            if (m < 0 || parse_int(v, 1, 1000000, &c.auth_fail_burst) < 0) {
                set_err(err, n_err, "--auth-failure-burst must be 1..1000000");
                goto bad;
            }
        } else if (VALUE("--auth-failure-rate", NULL)) {
            if (m < 0 || parse_int(v, 1, 1000000, &c.auth_fail_rate) < 0) {
                set_err(err, n_err, "--auth-failure-rate must be 1..1000000");
                goto bad;
            }
        } else if (VALUE("--idle-timeout", NULL)) {
            if (m < 0 || parse_int(v, 1, 86400, &c.idle_timeout_s) < 0) {
                set_err(err, n_err, "--idle-timeout must be 1..86400 seconds");
                goto bad;
            }
        } else {
            set_err(err, n_err, "unknown option '%s' (see --help)", a);
            goto bad;
        }
#undef VALUE
    }
    {
        enum cm_log_format lf;

        if (cm_log_format_parse(c.log_format, &lf) < 0) {
            set_err(err, n_err, "--log-format must be text or json");
            goto bad;
        }
    }
    if (c.tls_clientverifyfile && !c.tls_pemfile) {
        set_err(err, n_err, "--tls-clientverifyfile needs --tls-pemfile");
        goto bad;
    }
    if (c.bus_uri)
        strv_push(&c.warnings, &c.n_warnings, "bus-uri is accepted but unused (no message bus)");
    if (c.bus_exchange)
        strv_push(&c.warnings, &c.n_warnings,
                  "bus-exchange is accepted but unused (no message bus)");
    *ret = c;
    return 0;
bad:
    rc = -EINVAL;
out:
    if (rc == -ENOMEM)
        set_err(err, n_err, "out of memory");
    shim_config_done(&c);
    return rc;
}
