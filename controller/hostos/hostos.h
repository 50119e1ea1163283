/* hostos: per-OS profiles — what to run on a host, as DATA (YAML), not code.
 *
 * A profile says which hosts it is for (os-release ID / ID_LIKE, rpm-ostree or not), the ordered
 * bootstrap steps (each: a `check` command whose exit 0 means "already done", an `apply`
 * command, and files to upload whose content is a template), the day-2 commands (reboot,
 * restart, upgrade, deploy, version) and the teardown steps. The format is documented in
 * controller/hostos/README.md; the shipped profiles live in controller/hostos/profiles/.
 *
 * Safety rule enforced by the loader: commands are fixed text. The only placeholder a command
 * may contain is {{version}} in `deploy`, filled by hostos_profile_deploy_command() after strict
 * validation and single-quoted. Everything that comes from resources (network options, server
 * URLs, tokens, node names) goes into FILE CONTENT (templates), uploaded over SFTP — never into
 * a shell string.
 *
 * Ownership and threads: a registry is built by one thread (load calls), then only read;
 * profiles are immutable and reference counted, so a reconciler can keep the profile of a host
 * while the registry is replaced (e.g. after a ConfigMap change). hostos_registry_match() and
 * every read of a profile are thread-safe once loading is done. */
#ifndef HOSTOS_H
#define HOSTOS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct hostos_error {
    char message[512]; /* "source:line: what is wrong" for load errors */
};

/* A condition `var: value` or `var: [v1, v2]`: true when the variable's text equals one of the
 * values (a missing variable reads as ""). */
struct hostos_cond {
    const char *var;
    const char *const *values;
    size_t n_values;
};

struct hostos_file {
    const char *path;     /* absolute, fixed text */
    unsigned mode;        /* permission bits */
    const char *content;  /* template: hostos_template_render() */
    const struct hostos_cond *when;
    size_t n_when;
    int line;             /* where it was defined */
};

struct hostos_step {
    const char *name;         /* [a-z0-9][a-z0-9-]*, unique in its list */
    const char *description;  /* may be "" */
    const char *check;        /* exit 0 = already done. Always set for bootstrap steps; may be
                               * NULL for teardown steps (then apply always runs) */
    const char *apply;        /* always set */
    const struct hostos_file *files; /* uploaded before check/apply */
    size_t n_files;
    const struct hostos_cond *when;
    size_t n_when;
    int timeout_s;            /* per command; 0 = the caller's default */
    int line;
};

/* rpm-ostree requirement of a profile's match rule. */
enum hostos_atomic {
    HOSTOS_ATOMIC_ANY,  /* either */
    HOSTOS_ATOMIC_NO,   /* traditional package-managed hosts only */
    HOSTOS_ATOMIC_YES,  /* rpm-ostree hosts only */
};

struct hostos_profile {
    const char *id;          /* "fedora" */
    const char *description;
    const char *source;      /* "dir/fedora.yaml" or the name given for a string */
    int priority;            /* higher wins when several match */
    const char *const *match_ids;  /* os-release ID values */
    size_t n_match_ids;
    const char *const *match_like; /* tokens looked for in ID_LIKE */
    size_t n_match_like;
    enum hostos_atomic match_atomic;
    const struct hostos_step *bootstrap;
    size_t n_bootstrap;
    const struct hostos_step *teardown;
    size_t n_teardown;
    const char *reboot;   /* reboots the host; its session may die before an exit status */
    const char *restart;  /* the `restart` operation's command (defaults to reboot) */
    const char *upgrade;  /* upgrades the OS (a reboot follows, run by the caller) */
    const char *deploy;   /* with {{version}}; NULL when the OS cannot deploy a version */
    const char *version;  /* prints the OS version on its first stdout line */
};

struct hostos_profile *hostos_profile_ref(struct hostos_profile *p);
/* Drops a reference; frees at zero. Accepts NULL. */
void hostos_profile_unref(struct hostos_profile *p);

/* The deploy command for version, or -ENOTSUP when the profile has none ("deploy needs an
 * rpm-ostree host; <id> hosts cannot deploy a version"), -EINVAL when version does not match
 * hostos_version_valid(). *ret_cmd is malloc'd. */
int hostos_profile_deploy_command(const struct hostos_profile *p, const char *version,
                                  char **ret_cmd, struct hostos_error *err);
/* True when v is a safe version string: 1..128 characters of [A-Za-z0-9._+~:=-], starting with
 * a letter or digit (so it can never be an option or contain shell syntax). */
bool hostos_version_valid(const char *v);

/* True when every condition holds for vars (a JSON object; see hostos_template_render()). */
bool hostos_conds_hold(const struct hostos_cond *c, size_t n, const json_t *vars);

/* Renders a template: "{{ path }}" is replaced by the value at the dotted path in vars
 * (strings verbatim, integers/reals/booleans as text), with optional filters:
 *   {{ a.b | default "text" }}  the text when the variable is missing or null
 *   {{ a.b | base64 }}          standard base64 of the value
 *   {{ a.b | json }}            the value as a JSON string literal (valid YAML too)
 * "{{{{" is a literal "{{". A missing variable without a default, an object/array value, an
 * unknown filter or an unterminated tag is an error (-EINVAL, err says which variable). Pure.
 * *ret is malloc'd. */
int hostos_template_render(const char *tmpl, const json_t *vars, char **ret,
                           struct hostos_error *err);

struct hostos_registry;

int hostos_registry_new(struct hostos_registry **ret);
struct hostos_registry *hostos_registry_ref(struct hostos_registry *r);
void hostos_registry_unref(struct hostos_registry *r);

/* Loads every *.yaml / *.yml file of dir, in name order; a profile whose id is already in the
 * registry replaces it (so: load the shipped directory, then the override directory, then the
 * ConfigMap). All-or-nothing per call: on error nothing of this call is added. Returns 0,
 * -ENOENT (no such dir), or -EINVAL with err "file:line: ...". */
int hostos_registry_load_dir(struct hostos_registry *r, const char *dir, struct hostos_error *err);
/* Loads one YAML text holding one profile, or a list of profiles (a sequence at the top). name
 * is used in error messages and as the profile's source ("configmap/x/fedora.yaml"). Same
 * override and error rules as hostos_registry_load_dir(). */
int hostos_registry_load_yaml_string(struct hostos_registry *r, const char *text, size_t len,
                                     const char *name, struct hostos_error *err);

size_t hostos_registry_count(const struct hostos_registry *r);
/* The profile with this id (a new reference), or NULL. */
struct hostos_profile *hostos_registry_get(const struct hostos_registry *r, const char *id);

/* Picks the profile for a host from its facts (sshc_facts: os_id, os_id_like, atomic; taken as
 * plain values so this layer does not depend on the SSH one). Candidates are the profiles whose
 * atomic rule accepts `atomic` and that list os_id in their ids, or one of the space-separated
 * ID_LIKE tokens in their like list. The highest priority wins, then an ID match over an
 * ID_LIKE match, then the ID_LIKE token that comes first (the closest relative), then the
 * smaller id. Returns 0 and a new reference, or -ENOENT for an unknown OS with err saying
 * "no OS profile matches os-release ID=... ID_LIKE=... (rpm-ostree: no)". */
int hostos_registry_match(const struct hostos_registry *r, const char *os_id,
                          const char *os_id_like, bool atomic, struct hostos_profile **ret,
                          struct hostos_error *err);

#endif
