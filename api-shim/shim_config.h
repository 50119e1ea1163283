/* shim_config: command line and JSON config file of commissaire-shim, compatible with the
 * original commissaire-server (spec §10.6, §10.8, decisions 25) plus the shim's own options.
 *
 * Merging: the config file gives defaults (its keys may use '-' or '_': every '-' in object keys
 * becomes '_', recursively, as REF does), scalar command-line flags override them, and repeated
 * flags (--self-auth, --authentication-plugin, --trusted-proxy) are appended to the file's lists.
 * Unlike REF, command-line plug-ins work with or without a config file. Main thread only. */
#ifndef SHIM_CONFIG_H
#define SHIM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "shim_auth.h"
#include "shim_cidr.h"

#define SHIM_CONFIG_DEFAULT_FILE "/etc/commissaire/commissaire.conf"

struct shim_config {
    char *config_file;          /* the file that was read, or NULL */
    char *listen_interface;     /* "0.0.0.0" */
    int listen_port;            /* 8000; 0 picks a free port (see port_file) */
    char *port_file;            /* write the bound port here once listening (tests) */
    char *tls_pemfile;          /* certificate + key PEM; enables TLS */
    char *tls_clientverifyfile; /* CA bundle; requires client certificates */
    struct shim_auth_spec *plugins;
    size_t n_plugins;
    char **self_auths;
    size_t n_self_auths;
    bool debug;
    char *bus_uri;      /* accepted for compatibility, unused */
    char *bus_exchange; /* accepted for compatibility, unused */
    char *kubeconfig;   /* NULL: $KUBECONFIG, ~/.kube/config or in-cluster */
    char *namespace_;   /* "commissaire" */
    struct shim_cidr *trusted;
    size_t n_trusted;
    char *log_format;   /* "text" or "json" */
    bool metrics;       /* serve /metrics (default on) */
    int workers;        /* worker threads for blocking work (default 4) */
    int header_timeout_s; /* a request's headers and body must arrive within this (default 10) */
    int idle_timeout_s;   /* keep-alive idle limit (default 30) */
    int auth_fail_burst;  /* failed authentications per peer before answers are delayed (5) */
    int auth_fail_rate;   /* ... refilled at this many per second (1) */
    char **warnings;      /* things accepted but unused, for the caller to log */
    size_t n_warnings;
};

/* Parsed from argv (argv[0] ignored). Returns 0 when the server should run, 1 when --help or
 * --version printed to out and the program should exit 0, or -EINVAL with a reason in err. On
 * failure *ret is left clean. */
int shim_config_load(int argc, char *const *argv, FILE *out, struct shim_config *ret, char *err,
                     size_t n_err);
void shim_config_done(struct shim_config *c);
void shim_config_usage(FILE *f);

/* Parses one --authentication-plugin value "MODULE[:key=value,...]": split at the first ':',
 * items at ',' and each item at its first '='; values are strings; items without '=' are ignored
 * (REF). Returns 0 or -EINVAL. */
int shim_config_parse_plugin(const char *spec, struct shim_auth_spec *ret);

/* Replaces '-' by '_' in every object key, recursively, not inside arrays (REF). Returns a new
 * reference. */
json_t *shim_config_normalize_keys(const json_t *v);

#endif
