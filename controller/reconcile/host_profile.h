/* host_profile: the Host reconciler's view of an OS profile (hostos), rendered for one host.
 *
 * A plan is the ordered list of bootstrap steps (name, idempotence check, apply command, files
 * to upload) and teardown steps of the profile that matches the host, with the steps and files
 * whose `when` conditions do not hold for the host left out and every file template already
 * rendered with the host's variables (host_vars.h). Commands are the profile's fixed text:
 * nothing from resources is ever put into a shell string (hostos enforces it).
 * Threads: a plan is used by one thread; building plans from one registry is thread-safe. */
#ifndef HOST_PROFILE_H
#define HOST_PROFILE_H

#include <jansson.h>
#include <stddef.h>

struct hostos_registry;
struct sshc_facts;

struct hp_file {
    const char *path; /* absolute path on the host */
    const char *data; /* rendered content */
    size_t len;
    unsigned mode;    /* permission bits */
};

struct hp_step {
    const char *name;  /* e.g. "install-docker" */
    const char *check; /* exits 0 when the step is already done; NULL: always apply */
    const char *apply; /* the command */
    const struct hp_file *files; /* uploaded (if changed) before apply */
    size_t n_files;
    int timeout_ms;    /* per command; 0: the controller's default */
};

struct hp_plan;

/* Which profile fits these facts: 0 and *ret_name (valid while the registry lives), or -ENOENT
 * with msg saying what the host is ("no OS profile matches os-release ID=slackware ..."). */
int hp_match(struct hostos_registry *reg, const struct sshc_facts *facts, const char **ret_name,
             char *msg, size_t n);

/* Builds the plan of profile `name` for a host with variables vars (host_vars_build()).
 * Returns 0 and *ret_plan, -ENOENT (no such profile), -EINVAL (a template failed; msg says
 * which variable of which file of which step), -ENOMEM. */
int hp_plan_new(struct hostos_registry *reg, const char *name, const json_t *vars,
                struct hp_plan **ret_plan, char *msg, size_t n);
void hp_plan_free(struct hp_plan *p);
const char *hp_plan_profile(const struct hp_plan *p);
size_t hp_plan_n_steps(const struct hp_plan *p);
const struct hp_step *hp_plan_step(const struct hp_plan *p, size_t i);
/* Teardown steps, run in order on delete with spec.cleanupOnDelete. */
size_t hp_plan_n_teardown(const struct hp_plan *p);
const struct hp_step *hp_plan_teardown(const struct hp_plan *p, size_t i);

#endif
