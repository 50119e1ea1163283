/* sshc_facts: what the controller knows about a host, gathered in ONE command.
 *
 * One exec runs a fixed POSIX sh script (sshc_facts_script()) that prints delimited sections:
 * /etc/os-release, the rpm-ostree marker (and `rpm-ostree status --json` when os-release has no
 * OSTREE_VERSION), online CPUs, MemTotal, free space of /, kernel release, boot id and hostname.
 * Only df and uname are separate processes on a typical host. A pure parser turns the output into a
 * struct, so it is tested on captured outputs of real systems without any host.
 *
 * Threading: the parser is pure and thread-safe; sshc_facts_gather() blocks like sshc_exec(). */
#ifndef SSHC_FACTS_H
#define SSHC_FACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sshc_session;
struct sshc_error;

struct sshc_facts {
    /* /etc/os-release (falls back to /usr/lib/os-release). Strings are malloc'd, never NULL
     * after a successful parse ("" when the host did not say). */
    char *os_id;          /* ID, lower case ("fedora", "debian"); "" when unknown */
    char *os_id_like;     /* ID_LIKE, space separated ("rhel centos fedora") */
    char *os_version_id;  /* VERSION_ID ("39") */
    char *os_name;        /* NAME ("Fedora Linux") */
    bool atomic;          /* rpm-ostree host: /run/ostree-booted exists */
    char *ostree_version; /* version of the booted rpm-ostree deployment (os-release
                           * OSTREE_VERSION, else `rpm-ostree status --json`), "" when none */
    int64_t cpus;         /* online logical CPUs (/sys/devices/system/cpu/online, else nproc) */
    int64_t memory_kib;   /* MemTotal */
    int64_t space_kib;    /* available space of / (df -Pk) */
    char *kernel;         /* uname -r */
    char *boot_id;        /* /proc/sys/kernel/random/boot_id */
    char *hostname;
};

/* The script to run (static string). */
const char *sshc_facts_script(void);

/* Parses the script's output. Returns 0 and fills *ret (free with sshc_facts_done()), or
 * -EBADMSG when a required section (cpus, memory, space, kernel, boot id, hostname) is missing
 * or malformed, with err saying which (kind SSHC_ERR_PARSE). os-release may be absent (os_id
 * "" then: the profile matcher reports the unknown OS). Pure function. */
int sshc_facts_parse(const char *out, size_t len, struct sshc_facts *ret, struct sshc_error *err);

/* Frees the strings and zeroes the struct. Accepts a zeroed struct. */
void sshc_facts_done(struct sshc_facts *f);

/* Runs the script on s (one round trip) and parses it. timeout_ms 0 means 20000. Returns 0, or
 * the sshc_exec() error, or -EBADMSG (script exit status non-zero or output not parseable). */
int sshc_facts_gather(struct sshc_session *s, int timeout_ms, struct sshc_facts *ret,
                      struct sshc_error *err);

#endif
