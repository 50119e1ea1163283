/* sshc_facts: the one-round-trip fact script and its pure parser.
 *
 * The script uses POSIX sh builtins plus df (nproc/getconf only without sysfs, uname only
 * without /proc/sys/kernel/osrelease, rpm-ostree only when os-release lacks OSTREE_VERSION),
 * all present on every supported OS and emulated by the host farm. Each section is introduced
 * by a line
 * "@@facts:<name>", and "@@facts:end" closes the output, so a cut-off output is detected rather
 * than parsed as a host with no memory. Failing commands print nothing (stderr is discarded per
 * command) and the parser decides what is required. */
#include "sshc_facts.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "sshc.h"
#include "sshc_int.h"

static const char script[] =
    "LC_ALL=C; export LC_ALL\n"
    /* Files are read with shell builtins (read/printf) rather than cat: every process saved
     * is a fork+exec on the host, for every host, at every check. */
    "echo '@@facts:os-release'\n"
    "f=/etc/os-release; [ -r $f ] || f=/usr/lib/os-release; ov=\n"
    "if [ -r $f ]; then while IFS= read -r l || [ -n \"$l\" ]; do printf '%s\\n' \"$l\"; "
    "case $l in OSTREE_VERSION=?*) ov=1;; esac; done <$f; fi\n"
    "echo '@@facts:ostree-booted'\n"
    "if [ -e /run/ostree-booted ]; then echo yes; else echo no; fi\n"
    /* rpm-ostree hosts name their booted tree in os-release (OSTREE_VERSION); only when that is
     * missing is rpm-ostree itself asked (a slow program). */
    "echo '@@facts:rpm-ostree'\n"
    "if [ -e /run/ostree-booted ] && [ -z \"$ov\" ]; then rpm-ostree status --json 2>/dev/null; fi\n"
    /* Online CPUs from sysfs ("0-3,6"), read by the shell; nproc only where it is missing. */
    "echo '@@facts:nproc'\n"
    "if read -r c 2>/dev/null </sys/devices/system/cpu/online; then echo \"online $c\"; "
    "else nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null; fi\n"
    "echo '@@facts:memtotal'\n"
    "while read -r k v u; do if [ \"$k\" = MemTotal: ]; then echo \"$v\"; break; fi; done "
    "</proc/meminfo\n"
    "echo '@@facts:df'\n"
    "df -Pk / 2>/dev/null\n"
    "echo '@@facts:kernel'\n"
    /* What `uname -r` prints, read by the shell; uname only where /proc lacks it. */
    "if read -r k 2>/dev/null </proc/sys/kernel/osrelease; then echo \"$k\"; else uname -r; fi\n"
    "echo '@@facts:boot-id'\n"
    "read -r b </proc/sys/kernel/random/boot_id && echo \"$b\"\n"
    "echo '@@facts:hostname'\n"
    /* The kernel's (UTS namespace's) host name, what `hostname` prints, without a process. */
    "read -r h </proc/sys/kernel/hostname && echo \"$h\"\n"
    "echo '@@facts:end'\n";

const char *sshc_facts_script(void) {
    return script;
}

void sshc_facts_done(struct sshc_facts *f) {
    if (!f)
        return;
    free(f->os_id);
    free(f->os_id_like);
    free(f->os_version_id);
    free(f->os_name);
    free(f->ostree_version);
    free(f->kernel);
    free(f->boot_id);
    free(f->hostname);
    memset(f, 0, sizeof(*f));
}

enum section {
    SEC_OS_RELEASE,
    SEC_OSTREE_BOOTED,
    SEC_RPM_OSTREE,
    SEC_NPROC,
    SEC_MEMTOTAL,
    SEC_DF,
    SEC_KERNEL,
    SEC_BOOT_ID,
    SEC_HOSTNAME,
    SEC_END,
    SEC__MAX,
};

static const char *const section_names[SEC__MAX] = {
    [SEC_OS_RELEASE] = "os-release", [SEC_OSTREE_BOOTED] = "ostree-booted",
    [SEC_RPM_OSTREE] = "rpm-ostree", [SEC_NPROC] = "nproc",
    [SEC_MEMTOTAL] = "memtotal",     [SEC_DF] = "df",
    [SEC_KERNEL] = "kernel",         [SEC_BOOT_ID] = "boot-id",
    [SEC_HOSTNAME] = "hostname",     [SEC_END] = "end",
};

struct span {
    const char *p;
    size_t n;
    bool seen;
};

/* Longest single value we accept; anything longer is a broken or hostile host. */
#define VALUE_MAX 1024

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trim(const char **p, size_t *n) {
    while (*n && is_space(**p)) {
        (*p)++;
        (*n)--;
    }
    while (*n && is_space((*p)[*n - 1]))
        (*n)--;
}

static int dup_value(const char *p, size_t n, char **ret) {
    if (n > VALUE_MAX)
        return -EBADMSG;
    char *s = strndup(p, n);
    if (!s)
        return -ENOMEM;
    free(*ret);
    *ret = s;
    return 0;
}

/* Unquotes an os-release value: "..." with backslash escapes, '...' literally, or bare. */
static int os_release_value(const char *p, size_t n, char **ret) {
    trim(&p, &n);
    if (n > VALUE_MAX)
        return -EBADMSG;
    char *out = malloc(n + 1);
    if (!out)
        return -ENOMEM;
    size_t o = 0;
    if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
        for (size_t i = 1; i + 1 < n; i++) {
            if (p[i] == '\\' && i + 2 < n)
                i++;
            out[o++] = p[i];
        }
    } else if (n >= 2 && p[0] == '\'' && p[n - 1] == '\'') {
        memcpy(out, p + 1, n - 2);
        o = n - 2;
    } else {
        memcpy(out, p, n);
        o = n;
    }
    out[o] = '\0';
    free(*ret);
    *ret = out;
    return 0;
}

static int parse_os_release(struct span sp, struct sshc_facts *f) {
    const char *p = sp.p, *end = sp.p + sp.n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *eq = memchr(p, '=', (size_t)(le - p));
        if (eq && *p != '#') {
            const char *k = p;
            size_t kn = (size_t)(eq - p);
            trim(&k, &kn);
            char **dst = NULL;
            if (kn == 2 && memcmp(k, "ID", 2) == 0)
                dst = &f->os_id;
            else if (kn == 7 && memcmp(k, "ID_LIKE", 7) == 0)
                dst = &f->os_id_like;
            else if (kn == 10 && memcmp(k, "VERSION_ID", 10) == 0)
                dst = &f->os_version_id;
            else if (kn == 4 && memcmp(k, "NAME", 4) == 0)
                dst = &f->os_name;
            else if (kn == 14 && memcmp(k, "OSTREE_VERSION", 14) == 0)
                dst = &f->ostree_version;
            if (dst) {
                int r = os_release_value(eq + 1, (size_t)(le - eq - 1), dst);
                if (r < 0)
                    return r;
            }
        }
        p = le + 1;
    }
    /* IDs are lower case by specification; normalise hosts that do not follow it. */
    for (char *c = f->os_id; c && *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    for (char *c = f->os_id_like; c && *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    return 0;
}

/* The booted deployment's "version" from `rpm-ostree status --json`. Absent/invalid → "". */
static int parse_rpm_ostree(struct span sp, struct sshc_facts *f) {
    const char *p = sp.p;
    size_t n = sp.n;
    trim(&p, &n);
    if (n == 0)
        return 0;
    json_error_t je;
    json_t *root = json_loadb(p, n, 0, &je);
    if (!root)
        return 0;
    int r = 0;
    json_t *deps = json_object_get(root, "deployments");
    size_t i;
    json_t *d;
    json_array_foreach(deps, i, d) {
        if (!json_is_true(json_object_get(d, "booted")))
            continue;
        const char *v = json_string_value(json_object_get(d, "version"));
        if (v)
            r = dup_value(v, strlen(v), &f->ostree_version);
        break;
    }
    json_decref(root);
    return r;
}

static int parse_int(struct span sp, int64_t *ret);

/* "online 0-3,6,8-9" (sysfs cpu list) → 7; or a plain number (nproc). */
static int parse_cpus(struct span sp, int64_t *ret) {
    const char *p = sp.p;
    size_t n = sp.n;
    trim(&p, &n);
    if (n < 7 || memcmp(p, "online ", 7) != 0)
        return parse_int(sp, ret);
    const char *q = p + 7, *end = p + n;
    int64_t count = 0;
    while (q < end) {
        char *e = NULL;
        errno = 0;
        long a = strtol(q, &e, 10);
        if (e == q || errno || a < 0 || e > end)
            return -EBADMSG;
        long b = a;
        q = e;
        if (q < end && *q == '-') {
            b = strtol(q + 1, &e, 10);
            if (e == q + 1 || errno || b < a || e > end)
                return -EBADMSG;
            q = e;
        }
        count += b - a + 1;
        if (q < end && *q != ',')
            return -EBADMSG;
        if (q < end)
            q++;
    }
    *ret = count;
    return 0;
}

static int parse_int(struct span sp, int64_t *ret) {
    const char *p = sp.p;
    size_t n = sp.n;
    trim(&p, &n);
    if (n == 0 || n > 19)
        return -EBADMSG;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -EBADMSG;
        v = v * 10 + (p[i] - '0');
    }
    *ret = v;
    return 0;
}

/* `df -Pk /`: a header line, then "fs blocks used available capacity% mountpoint". The fields
 * are taken from the end, so a filesystem name with spaces does not shift them. */
static int parse_df(struct span sp, int64_t *ret) {
    const char *p = sp.p, *end = sp.p + sp.n;
    const char *nl = memchr(p, '\n', sp.n);
    if (!nl)
        return -EBADMSG;
    p = nl + 1;
    const char *le = memchr(p, '\n', (size_t)(end - p));
    if (!le)
        le = end;
    /* Walk back over: mount point, capacity, available. */
    const char *fields[3][2];
    const char *q = le;
    for (int k = 0; k < 3; k++) {
        while (q > p && is_space(q[-1]))
            q--;
        const char *fe = q;
        while (q > p && !is_space(q[-1]))
            q--;
        if (q == fe)
            return -EBADMSG;
        fields[k][0] = q;
        fields[k][1] = fe;
    }
    struct span avail = {fields[2][0], (size_t)(fields[2][1] - fields[2][0]), true};
    if (fields[1][1][-1] != '%')
        return -EBADMSG;
    return parse_int(avail, ret);
}

static int parse_line(struct span sp, char **ret) {
    const char *p = sp.p;
    size_t n = sp.n;
    trim(&p, &n);
    if (n == 0 || memchr(p, '\n', n))
        return -EBADMSG;
    return dup_value(p, n, ret);
}

static int split_sections(const char *out, size_t len, struct span sec[SEC__MAX]) {
    const char *p = out, *end = out + len;
    int cur = -1;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t ln = (size_t)(le - p);
        if (ln > 8 && memcmp(p, "@@facts:", 8) == 0) {
            int found = -1;
            for (int i = 0; i < SEC__MAX; i++) {
                size_t sn = strlen(section_names[i]);
                if (ln - 8 == sn && memcmp(p + 8, section_names[i], sn) == 0)
                    found = i;
            }
            if (found < 0 || sec[found].seen)
                return -EBADMSG;
            cur = found;
            sec[cur].seen = true;
            sec[cur].p = nl ? nl + 1 : end;
            sec[cur].n = 0;
        } else if (cur >= 0) {
            sec[cur].n = (size_t)((nl ? nl + 1 : end) - sec[cur].p);
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

int sshc_facts_parse(const char *out, size_t len, struct sshc_facts *ret, struct sshc_error *err) {
    struct span sec[SEC__MAX] = {0};
    struct sshc_facts f = {0};
    const char *bad = NULL;
    int r;

    sshc__error_clear(err);
    if (!out || split_sections(out, len, sec) < 0) {
        bad = "section markers";
        r = -EBADMSG;
        goto out;
    }
    if (!sec[SEC_END].seen) {
        bad = "end marker (output cut off)";
        r = -EBADMSG;
        goto out;
    }
#define STEP(cond, what, expr)                                                                 \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            bad = what;                                                                        \
            r = -EBADMSG;                                                                      \
            goto out;                                                                          \
        }                                                                                      \
        r = (expr);                                                                            \
        if (r < 0) {                                                                           \
            bad = what;                                                                        \
            goto out;                                                                          \
        }                                                                                      \
    } while (0)
    if (sec[SEC_OS_RELEASE].seen)
        STEP(1, "os-release", parse_os_release(sec[SEC_OS_RELEASE], &f));
    if (sec[SEC_OSTREE_BOOTED].seen) {
        const char *p = sec[SEC_OSTREE_BOOTED].p;
        size_t n = sec[SEC_OSTREE_BOOTED].n;
        trim(&p, &n);
        f.atomic = n == 3 && memcmp(p, "yes", 3) == 0;
    }
    if (sec[SEC_RPM_OSTREE].seen)
        STEP(1, "rpm-ostree status", parse_rpm_ostree(sec[SEC_RPM_OSTREE], &f));
    STEP(sec[SEC_NPROC].seen, "nproc", parse_cpus(sec[SEC_NPROC], &f.cpus));
    STEP(f.cpus > 0, "nproc", 0);
    STEP(sec[SEC_MEMTOTAL].seen, "MemTotal", parse_int(sec[SEC_MEMTOTAL], &f.memory_kib));
    STEP(sec[SEC_DF].seen, "df -Pk /", parse_df(sec[SEC_DF], &f.space_kib));
    STEP(sec[SEC_KERNEL].seen, "uname -r", parse_line(sec[SEC_KERNEL], &f.kernel));
    STEP(sec[SEC_BOOT_ID].seen, "boot_id", parse_line(sec[SEC_BOOT_ID], &f.boot_id));
    STEP(sec[SEC_HOSTNAME].seen, "hostname", parse_line(sec[SEC_HOSTNAME], &f.hostname));
#undef STEP
    /* OSTREE_VERSION only means something on a host booted from an OSTree. */
    if (!f.atomic && f.ostree_version) {
        free(f.ostree_version);
        f.ostree_version = NULL;
    }
    /* Optional strings become "" so callers never test for NULL. */
    char **opt[] = {&f.os_id, &f.os_id_like, &f.os_version_id, &f.os_name, &f.ostree_version};
    for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
        if (!*opt[i] && !(*opt[i] = strdup(""))) {
            bad = "memory";
            r = -ENOMEM;
            goto out;
        }
    }
    *ret = f;
    return 0;
out:
    sshc_facts_done(&f);
    if (r == -ENOMEM)
        return sshc__fail(err, SSHC_ERR_SYSTEM, r, "out of memory");
    return sshc__fail(err, SSHC_ERR_PARSE, -EBADMSG, "facts output: missing or malformed %s",
                      bad);
}

int sshc_facts_gather(struct sshc_session *s, int timeout_ms, struct sshc_facts *ret,
                      struct sshc_error *err) {
    struct sshc_exec_opts o = {
        .timeout_ms = timeout_ms > 0 ? timeout_ms : 20000,
        .stdout_cap = 256u << 10,
        .stderr_cap = 16u << 10,
        .unprivileged = true, /* nothing here needs root */
    };
    struct sshc_result res;
    int r = sshc_exec(s, script, &o, &res, err);
    if (r == 0) {
        if (res.out_truncated)
            r = sshc__fail(err, SSHC_ERR_PARSE, -EBADMSG, "facts output from %s too large",
                           sshc_session_host(s));
        else
            r = sshc_facts_parse(res.out.data, res.out.len, ret, err);
    }
    sshc_result_done(&res);
    return r;
}
