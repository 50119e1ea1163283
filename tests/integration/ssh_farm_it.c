/* sshc + hostos against the host farm (real OpenSSH sshd per host, emulated OSes).
 *
 * Started by ssh_farm_it.sh with a farm of six hosts: fedora, centos, rhel, atomic, debian and an
 * unknown OS (slackware). Environment: FARM_DIR (the farm directory: client_key, known_hosts,
 * hosts.list, hosts/ADDR/root/...), FARM_SH (hack/hostfarm/farm.sh), PROFILES_DIR (the shipped
 * profiles). Everything is checked from the farm's side: its fact files, its command records, its
 * package/service state and the files that landed in each host's root. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cm_time.h"
#include "hostos.h"
#include "sshc.h"
#include "sshc_facts.h"

#define MAXH 8

struct fhost {
    char addr[64];
    char os[32];
    char fp[SSHC_FINGERPRINT_MAX];
};

static const char *farm_dir, *farm_sh, *profiles_dir;
static char *client_key;
static struct fhost hosts[MAXH];
static size_t n_hosts;
static struct hostos_registry *reg;

static char *slurp(const char *path, size_t *ret_len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0, got;
    char *b = malloc(cap + 1);
    while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            char *t = realloc(b, cap + 1);
            if (!t) {
                free(b);
                b = NULL;
                break;
            }
            b = t;
        }
    }
    fclose(f);
    if (b)
        b[n] = '\0';
    if (ret_len)
        *ret_len = n;
    return b;
}

/* A file of host addr, relative to its root ("/etc/os-release", "/.hostfarm/facts/cpus"). */
static char *host_file(const char *addr, const char *rel) {
    char path[1024];
    if (snprintf(path, sizeof(path), "%s/hosts/%s/root%s", farm_dir, addr, rel) >= (int)sizeof(path))
        return NULL;
    return slurp(path, NULL);
}

static char *host_line(const char *addr, const char *rel) {
    char *s = host_file(addr, rel);
    if (s)
        s[strcspn(s, "\n")] = '\0';
    return s;
}

static struct fhost *by_os(const char *os) {
    for (size_t i = 0; i < n_hosts; i++)
        if (strcmp(hosts[i].os, os) == 0)
            return &hosts[i];
    fail_msg("no %s host in the farm", os);
    return NULL;
}

static int farm(const char *fmt, ...) {
    char args[512], cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "%s %s --dir %s >/dev/null", farm_sh, args, farm_dir);
    return system(cmd);
}

static int setup(void **state) {
    farm_dir = getenv("FARM_DIR");
    farm_sh = getenv("FARM_SH");
    profiles_dir = getenv("PROFILES_DIR");
    if (!farm_dir || !farm_sh || !profiles_dir) {
        fprintf(stderr, "run through ssh_farm_it.sh\n");
        return -1;
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/client_key", farm_dir);
    client_key = slurp(path, NULL);
    snprintf(path, sizeof(path), "%s/hosts.list", farm_dir);
    char *list = slurp(path, NULL);
    if (!client_key || !list)
        return -1;
    for (char *l = strtok(list, "\n"); l && n_hosts < MAXH; l = strtok(NULL, "\n"))
        if (sscanf(l, "%63s %31s", hosts[n_hosts].addr, hosts[n_hosts].os) == 2)
            n_hosts++;
    free(list);
    struct hostos_error err;
    if (hostos_registry_new(&reg) < 0 || hostos_registry_load_dir(reg, profiles_dir, &err) < 0) {
        fprintf(stderr, "profiles: %s\n", err.message);
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    free(client_key);
    hostos_registry_unref(reg);
    return 0;
}

static struct sshc_connect_opts opts(const struct fhost *h) {
    return (struct sshc_connect_opts){.host = h->addr, .port = 2222, .private_key = client_key,
                                      .expected_fingerprint = h->fp[0] ? h->fp : NULL,
                                      .connect_timeout_ms = 8000};
}

static struct sshc_session *connect_ok(const struct fhost *h) {
    struct sshc_connect_opts o = opts(h);
    struct sshc_session *s = NULL;
    struct sshc_error err;
    int r = sshc_session_connect(&o, &s, &err);
    if (r < 0)
        fail_msg("connect %s: %s", h->addr, err.message);
    return s;
}

/* First contact with every host: trust on first use, then pinned for the rest of the tests;
 * facts must equal what the farm set up. */
static void test_facts_equal_farm(void **state) {
    for (size_t i = 0; i < n_hosts; i++) {
        struct fhost *h = &hosts[i];
        struct sshc_session *s = connect_ok(h);
        snprintf(h->fp, sizeof(h->fp), "%s", sshc_session_fingerprint(s));
        assert_string_equal(sshc_session_kex(s), "curve25519-sha256");
        struct sshc_facts f;
        struct sshc_error err;
        int r = sshc_facts_gather(s, 20000, &f, &err);
        if (r < 0)
            fail_msg("facts %s: %s", h->addr, err.message);
        const char *want_id = strcmp(h->os, "atomic") == 0    ? "fedora"
                              : strcmp(h->os, "unknown") == 0 ? "slackware"
                                                              : h->os;
        assert_string_equal(f.os_id, want_id);
        assert_int_equal(f.atomic, strcmp(h->os, "atomic") == 0);
        char *v;
        v = host_line(h->addr, "/.hostfarm/state/os_version");
        if (f.atomic)
            assert_string_equal(f.ostree_version, v);
        else
            assert_string_equal(f.os_version_id, v);
        free(v);
        v = host_line(h->addr, "/.hostfarm/facts/cpus");
        assert_int_equal(f.cpus, atoll(v));
        free(v);
        v = host_line(h->addr, "/.hostfarm/facts/memory");
        assert_int_equal(f.memory_kib, atoll(v));
        free(v);
        v = host_line(h->addr, "/.hostfarm/facts/space");
        assert_int_equal(f.space_kib, atoll(v));
        free(v);
        v = host_line(h->addr, "/.hostfarm/facts/kernel");
        assert_string_equal(f.kernel, v);
        free(v);
        v = host_line(h->addr, "/.hostfarm/facts/boot_id");
        assert_string_equal(f.boot_id, v);
        free(v);
        v = host_line(h->addr, "/.hostfarm/facts/hostname");
        assert_string_equal(f.hostname, v);
        free(v);
        /* Every farm host but the unknown one has a profile. */
        struct hostos_profile *p = NULL;
        struct hostos_error herr;
        r = hostos_registry_match(reg, f.os_id, f.os_id_like, f.atomic, &p, &herr);
        if (strcmp(h->os, "unknown") == 0) {
            assert_int_equal(r, -ENOENT);
        } else {
            assert_int_equal(r, 0);
            assert_string_equal(p->id, h->os);
            hostos_profile_unref(p);
        }
        sshc_facts_done(&f);
        sshc_session_free(s);
    }
}

static json_t *bootstrap_vars(const struct fhost *h) {
    json_t *v = json_pack("{s:{s:s,s:s}, s:{s:s}, s:{s:s}, s:{s:s,s:s,s:{s:s}},"
                          " s:{s:s,s:s,s:s,s:b,s:s}}",
                          "host", "name", h->addr, "address", h->addr, "node", "name", h->addr,
                          "cluster", "name", "farm", "network", "name", "default", "type",
                          "flannel_etcd", "options", "etcd_endpoints", "https://etcd.test:2379",
                          "cm", "type", "kubernetes", "server_url", "https://k8s.test:6443", "ca",
                          "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n",
                          "insecure_skip_tls_verify", 0, "token", "farm-node-token");
    assert_non_null(v);
    return v;
}

struct run {
    int applied, done, skipped, files_changed;
    char sent[64][512]; /* commands sent, in order */
    int n_sent;
};

static int exec_cmd(struct sshc_session *s, struct run *run, const char *cmd, int *ret_status) {
    struct sshc_result res;
    struct sshc_error err;
    if (run->n_sent < 64)
        snprintf(run->sent[run->n_sent++], sizeof(run->sent[0]), "%s", cmd);
    int r = sshc_exec(s, cmd, &(struct sshc_exec_opts){.timeout_ms = 30000}, &res, &err);
    if (r < 0)
        fail_msg("exec '%s': %s", cmd, err.message);
    *ret_status = res.exit_status;
    if (res.exit_status != 0 && getenv("SSH_FARM_IT_VERBOSE"))
        fprintf(stderr, "'%s' -> %d: %s%s\n", cmd, res.exit_status, res.out.data, res.err.data);
    sshc_result_done(&res);
    return r;
}

/* The reconciler's step loop, as documented in controller/hostos/README.md. */
static void run_steps(struct sshc_session *s, const struct hostos_step *steps, size_t n,
                      const json_t *vars, struct run *run) {
    for (size_t i = 0; i < n; i++) {
        const struct hostos_step *st = &steps[i];
        if (!hostos_conds_hold(st->when, st->n_when, vars)) {
            run->skipped++;
            continue;
        }
        bool changed = false;
        for (size_t f = 0; f < st->n_files; f++) {
            const struct hostos_file *file = &st->files[f];
            if (!hostos_conds_hold(file->when, file->n_when, vars))
                continue;
            char *content = NULL;
            struct hostos_error herr;
            if (hostos_template_render(file->content, vars, &content, &herr) < 0)
                fail_msg("render %s: %s", file->path, herr.message);
            bool c = false;
            struct sshc_error err;
            if (sshc_upload(s, file->path, content, strlen(content), file->mode,
                            SSHC_UPLOAD_IF_CHANGED, &c, &err) < 0)
                fail_msg("upload %s: %s", file->path, err.message);
            free(content);
            changed |= c;
            run->files_changed += c;
        }
        int status = -1;
        if (st->check) {
            exec_cmd(s, run, st->check, &status);
            if (status == 0 && !changed) {
                run->done++;
                continue;
            }
        }
        exec_cmd(s, run, st->apply, &status);
        if (status != 0)
            fail_msg("step %s: apply exited %d", st->name, status);
        run->applied++;
    }
}

/* The exec payloads the farm recorded for addr after byte offset off, in order. */
static int recorded_execs(const char *addr, size_t off, char out[][512], int max, int *ret_cmds,
                          const char *cmd_needle) {
    char *log = host_file(addr, "/.hostfarm/records.log");
    assert_non_null(log);
    int n = 0, cmds = 0;
    for (char *l = strtok(log + off, "\n"); l; l = strtok(NULL, "\n")) {
        char *k = strchr(l, ' ');
        k = k ? strchr(k + 1, ' ') : NULL;
        if (!k)
            continue;
        k++;
        if (strncmp(k, "exec ", 5) == 0 && n < max)
            snprintf(out[n++], 512, "%s", k + 5);
        if (strncmp(k, "cmd ", 4) == 0 && cmd_needle && strstr(k + 4, cmd_needle))
            cmds++;
    }
    free(log);
    if (ret_cmds)
        *ret_cmds = cmds;
    return n;
}

static size_t records_size(const char *addr) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/hosts/%s/root/.hostfarm/records.log", farm_dir, addr);
    struct stat st;
    return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

static bool state_has(const char *addr, const char *set, const char *word) {
    char rel[128];
    snprintf(rel, sizeof(rel), "/.hostfarm/state/%s", set);
    char *s = host_file(addr, rel);
    bool found = false;
    for (char *l = s ? strtok(s, "\n") : NULL; l && !found; l = strtok(NULL, "\n"))
        found = strcmp(l, word) == 0;
    free(s);
    return found;
}

static void bootstrap_host(const char *os) {
    struct fhost *h = by_os(os);
    struct hostos_profile *p = hostos_registry_get(reg, os);
    assert_non_null(p);
    json_t *vars = bootstrap_vars(h);
    struct sshc_session *s = connect_ok(h);

    size_t off = records_size(h->addr);
    struct run *first = calloc(1, sizeof(*first));
    run_steps(s, p->bootstrap, p->n_bootstrap, vars, first);
    assert_true(first->applied >= 3);
    assert_int_equal(first->skipped, 0); /* a container manager: every step applies */
    assert_true(first->files_changed >= 6);
    /* The farm received exactly our commands, in our order. */
    char(*rec)[512] = calloc(64, 512);
    int n = recorded_execs(h->addr, off, rec, 64, NULL, NULL);
    assert_int_equal(n, first->n_sent);
    for (int i = 0; i < n; i++) {
        /* The farm shows newlines as \n; our commands are single lines. */
        assert_string_equal(rec[i], first->sent[i]);
    }
    /* The emulated host now has the stack installed and running. */
    const char *runtime = strcmp(os, "debian") == 0 ? "docker.io" : "docker";
    assert_true(state_has(h->addr, "packages", runtime));
    assert_true(state_has(h->addr, "packages", "flannel"));
    assert_true(state_has(h->addr, "packages", "kubernetes-node"));
    const char *svcs[] = {"flanneld", "docker", "kubelet", "kube-proxy"};
    for (size_t i = 0; i < 4; i++) {
        assert_true(state_has(h->addr, "services.active", svcs[i]));
        assert_true(state_has(h->addr, "services.enabled", svcs[i]));
    }
    /* Files landed in the host's own root, with values from the variables. */
    const char *flannel_cfg =
        strcmp(os, "debian") == 0 ? "/etc/default/flanneld" : "/etc/sysconfig/flanneld";
    char *cfg = host_file(h->addr, flannel_cfg);
    assert_non_null(cfg);
    assert_non_null(strstr(cfg, "FLANNEL_ETCD_ENDPOINTS=\"https://etcd.test:2379\""));
    free(cfg);
    char kpath[1024];
    snprintf(kpath, sizeof(kpath), "%s/hosts/%s/root/var/lib/kubelet/kubeconfig", farm_dir,
             h->addr);
    struct stat st;
    assert_int_equal(stat(kpath, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    char *kc = slurp(kpath, NULL);
    assert_non_null(strstr(kc, "token: \"farm-node-token\""));
    free(kc);

    /* Second run: only checks, nothing uploaded, nothing installed/enabled/restarted. */
    off = records_size(h->addr);
    struct run *second = calloc(1, sizeof(*second));
    run_steps(s, p->bootstrap, p->n_bootstrap, vars, second);
    assert_int_equal(second->applied, 0);
    assert_int_equal(second->files_changed, 0);
    assert_int_equal(second->done, first->applied + first->done);
    int mutating = 0, m;
    n = recorded_execs(h->addr, off, rec, 64, &m, " install ");
    mutating += m;
    recorded_execs(h->addr, off, rec, 64, &m, "systemctl enable");
    mutating += m;
    recorded_execs(h->addr, off, rec, 64, &m, "systemctl restart");
    mutating += m;
    assert_int_equal(mutating, 0);
    for (int i = 0; i < n; i++) {
        bool is_check = false;
        for (size_t k = 0; k < p->n_bootstrap; k++)
            is_check |= strcmp(rec[i], p->bootstrap[k].check) == 0;
        if (!is_check)
            fail_msg("second run sent a non-check command: %s", rec[i]);
    }
    free(rec);
    free(first);
    free(second);
    sshc_session_free(s);
    json_decref(vars);
    hostos_profile_unref(p);
}

static void test_bootstrap_fedora(void **state) {
    bootstrap_host("fedora");
    /* fedora's order, as the farm saw it: runtime, flannel, kubernetes, then the services. */
    struct fhost *h = by_os("fedora");
    char *log = host_file(h->addr, "/.hostfarm/records.log");
    const char *seq[] = {"cmd dnf -y install docker",      "cmd dnf -y install flannel",
                         "cmd dnf -y install kubernetes-node", "cmd systemctl restart flanneld",
                         "cmd systemctl restart docker",   "cmd systemctl restart kubelet kube-proxy"};
    const char *p = log;
    for (size_t i = 0; i < 6; i++) {
        const char *q = strstr(p, seq[i]);
        if (!q)
            fail_msg("'%s' not found in order in the fedora host's records", seq[i]);
        p = q + 1;
    }
    free(log);
}

static void test_bootstrap_centos(void **state) {
    bootstrap_host("centos");
}
static void test_bootstrap_rhel(void **state) {
    bootstrap_host("rhel");
}
static void test_bootstrap_atomic(void **state) {
    bootstrap_host("atomic");
}
static void test_bootstrap_debian(void **state) {
    bootstrap_host("debian");
}

static void test_teardown_fedora(void **state) {
    struct fhost *h = by_os("fedora");
    struct hostos_profile *p = hostos_registry_get(reg, "fedora");
    json_t *vars = bootstrap_vars(h);
    struct sshc_session *s = connect_ok(h);
    struct run *r = calloc(1, sizeof(*r));
    run_steps(s, p->teardown, p->n_teardown, vars, r);
    assert_int_equal(r->applied, 3);
    assert_false(state_has(h->addr, "services.active", "kubelet"));
    assert_false(state_has(h->addr, "services.enabled", "kube-proxy"));
    assert_false(state_has(h->addr, "services.active", "flanneld"));
    char kpath[1024];
    snprintf(kpath, sizeof(kpath), "%s/hosts/%s/root/var/lib/kubelet/kubeconfig", farm_dir,
             h->addr);
    assert_int_not_equal(access(kpath, F_OK), 0);
    memset(r, 0, sizeof(*r));
    run_steps(s, p->teardown, p->n_teardown, vars, r);
    assert_int_equal(r->applied, 0);
    free(r);
    sshc_session_free(s);
    json_decref(vars);
    hostos_profile_unref(p);
}

/* Waits until the host answers with a boot id other than old; returns the facts. */
static void wait_rebooted(struct fhost *h, const char *old, struct sshc_facts *ret) {
    int64_t until = cm_time_mono_ms() + 60000;
    while (cm_time_mono_ms() < until) {
        struct sshc_connect_opts o = opts(h);
        o.connect_timeout_ms = 2000;
        struct sshc_session *s = NULL;
        if (sshc_session_connect(&o, &s, NULL) == 0) {
            int r = sshc_facts_gather(s, 10000, ret, NULL);
            sshc_session_free(s);
            if (r == 0 && strcmp(ret->boot_id, old) != 0)
                return;
            if (r == 0)
                sshc_facts_done(ret);
        }
        usleep(200000);
    }
    fail_msg("%s did not come back with a new boot id", h->addr);
}

static void test_deploy_and_reboot_atomic(void **state) {
    struct fhost *h = by_os("atomic");
    struct hostos_profile *p = hostos_registry_get(reg, "atomic");
    struct sshc_session *s = connect_ok(h);
    struct sshc_facts before;
    assert_int_equal(sshc_facts_gather(s, 10000, &before, NULL), 0);
    char *cmd = NULL;
    assert_int_equal(hostos_profile_deploy_command(p, "29.20200101.0", &cmd, NULL), 0);
    struct sshc_result res;
    struct sshc_error err;
    assert_int_equal(sshc_exec(s, cmd, NULL, &res, &err), 0);
    assert_int_equal(res.exit_status, 0);
    sshc_result_done(&res);
    free(cmd);
    char *staged = host_line(h->addr, "/.hostfarm/state/ostree.staged");
    assert_string_equal(staged, "29.20200101.0");
    free(staged);
    /* The reboot's exit status may or may not arrive before the connection dies. */
    int r = sshc_exec(s, p->reboot, &(struct sshc_exec_opts){.timeout_ms = 10000}, &res, &err);
    assert_true(r == 0 || r == -EPROTO);
    sshc_result_done(&res);
    sshc_session_free(s);
    struct sshc_facts after;
    wait_rebooted(h, before.boot_id, &after);
    assert_string_equal(after.ostree_version, "29.20200101.0");
    s = connect_ok(h);
    assert_int_equal(sshc_exec(s, p->version, NULL, &res, &err), 0);
    assert_string_equal(res.out.data, "29.20200101.0\n");
    sshc_result_done(&res);
    sshc_session_free(s);
    sshc_facts_done(&before);
    sshc_facts_done(&after);
    /* deploy is refused for a traditional profile. */
    struct hostos_profile *f = hostos_registry_get(reg, "fedora");
    struct hostos_error herr;
    assert_int_equal(hostos_profile_deploy_command(f, "39", &cmd, &herr), -ENOTSUP);
    hostos_profile_unref(f);
    hostos_profile_unref(p);
}

static void test_hostkey_mismatch_runs_nothing(void **state) {
    struct fhost *h = by_os("debian");
    size_t before = records_size(h->addr);
    struct sshc_connect_opts o = opts(h);
    o.expected_fingerprint = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    struct sshc_session *s = NULL;
    struct sshc_error err;
    assert_int_equal(sshc_session_connect(&o, &s, &err), -EBADMSG);
    assert_int_equal(err.kind, SSHC_ERR_HOSTKEY_MISMATCH);
    assert_string_equal(err.seen_fingerprint, h->fp);
    /* After rekey the pinned key no longer matches either. */
    assert_int_equal(farm("host %s rekey", h->addr), 0);
    o.expected_fingerprint = h->fp;
    assert_int_equal(sshc_session_connect(&o, &s, &err), -EBADMSG);
    assert_string_equal(err.expected_fingerprint, h->fp);
    assert_string_not_equal(err.seen_fingerprint, h->fp);
    usleep(300000);
    /* The farm recorded nothing: no exec, no sftp, no command. */
    assert_int_equal(records_size(h->addr), before);
    snprintf(h->fp, sizeof(h->fp), "%s", err.seen_fingerprint);
}

static void test_failures_from_the_farm(void **state) {
    struct fhost *h = by_os("rhel");
    struct sshc_connect_opts o = opts(h);
    struct sshc_session *s = NULL;
    struct sshc_error err;
    assert_int_equal(farm("host %s wrong-key", h->addr), 0);
    assert_int_equal(sshc_session_connect(&o, &s, &err), -EACCES);
    assert_int_equal(err.kind, SSHC_ERR_AUTH);
    assert_int_equal(farm("host %s right-key", h->addr), 0);
    /* Accepted by the kernel, never answered: the banner wait times out. */
    assert_int_equal(farm("host %s hang", h->addr), 0);
    o.connect_timeout_ms = 800;
    int64_t t0 = cm_time_mono_ms();
    assert_int_equal(sshc_session_connect(&o, &s, &err), -ETIMEDOUT);
    assert_int_equal(err.kind, SSHC_ERR_TIMEOUT);
    assert_true(cm_time_mono_ms() - t0 < 3000);
    assert_int_equal(farm("host %s reachable", h->addr), 0);
    assert_int_equal(farm("host %s unreachable", h->addr), 0);
    assert_int_equal(sshc_session_connect(&o, &s, &err), -ECONNREFUSED);
    assert_int_equal(err.kind, SSHC_ERR_REFUSED);
    assert_int_equal(farm("host %s reachable", h->addr), 0);
    o.connect_timeout_ms = 8000;
    int64_t until = cm_time_mono_ms() + 20000;
    int r;
    while ((r = sshc_session_connect(&o, &s, &err)) < 0 && cm_time_mono_ms() < until)
        usleep(200000);
    assert_int_equal(r, 0);
    sshc_session_free(s);
}

/* A sudo session (non-root remoteUser): commands and uploads go through `sudo -n`, facts do
 * not. The farm's sessions are root already, but its sudo stand-in records every use. */
static void test_sudo_session(void **state) {
    struct fhost *h = by_os("centos");
    struct sshc_connect_opts o = opts(h);
    o.sudo = true;
    struct sshc_session *s = NULL;
    struct sshc_error err;
    assert_int_equal(sshc_session_connect(&o, &s, &err), 0);
    assert_true(sshc_session_sudo(s));
    size_t off = records_size(h->addr);
    struct sshc_result res;
    assert_int_equal(sshc_exec(s, "echo 'it''s' \"$((1+1))\"", NULL, &res, &err), 0);
    assert_string_equal(res.out.data, "its 2\n");
    sshc_result_done(&res);
    int sudos = 0;
    char(*rec)[512] = calloc(64, 512);
    int n = recorded_execs(h->addr, off, rec, 64, &sudos, "sudo -n -- sh -c");
    assert_int_equal(n, 1);
    assert_int_equal(sudos, 1);
    const char *content = "a='b'\n$(x)\n";
    bool changed = false;
    int r = sshc_upload(s, "/etc/commissaire/sudo-test.conf", content, strlen(content), 0640,
                        SSHC_UPLOAD_IF_CHANGED, &changed, &err);
    if (r < 0)
        fail_msg("sudo upload: %s", err.message);
    assert_true(changed);
    char path[1024];
    snprintf(path, sizeof(path), "%s/hosts/%s/root/etc/commissaire/sudo-test.conf", farm_dir,
             h->addr);
    char *got = slurp(path, NULL);
    assert_non_null(got);
    assert_string_equal(got, content);
    free(got);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(sshc_upload(s, "/etc/commissaire/sudo-test.conf", content, strlen(content),
                                 0640, SSHC_UPLOAD_IF_CHANGED, &changed, &err),
                     0);
    assert_false(changed);
    /* No temporary file is left in /tmp. */
    assert_int_equal(sshc_exec(s, "ls -A /tmp | grep -c sshc || true", NULL, &res, &err), 0);
    assert_string_equal(res.out.data, "0\n");
    sshc_result_done(&res);
    /* Facts run as the user: no sudo in the records for them. */
    off = records_size(h->addr);
    struct sshc_facts f;
    assert_int_equal(sshc_facts_gather(s, 10000, &f, &err), 0);
    sshc_facts_done(&f);
    recorded_execs(h->addr, off, rec, 64, &sudos, "sudo");
    assert_int_equal(sudos, 0);
    free(rec);
    sshc_session_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_facts_equal_farm),
        cmocka_unit_test(test_bootstrap_fedora),
        cmocka_unit_test(test_bootstrap_centos),
        cmocka_unit_test(test_bootstrap_rhel),
        cmocka_unit_test(test_bootstrap_atomic),
        cmocka_unit_test(test_bootstrap_debian),
        cmocka_unit_test(test_teardown_fedora),
        cmocka_unit_test(test_deploy_and_reboot_atomic),
        cmocka_unit_test(test_sudo_session),
        cmocka_unit_test(test_hostkey_mismatch_runs_nothing),
        cmocka_unit_test(test_failures_from_the_farm),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
