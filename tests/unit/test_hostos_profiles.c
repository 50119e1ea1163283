/* Unit tests of hostos profiles: the shipped profiles, strict loading with line numbers,
 * override precedence, matching and the deploy command. */
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

#include "hostos.h"

static struct hostos_registry *shipped(void) {
    struct hostos_registry *r = NULL;
    struct hostos_error err;
    assert_int_equal(hostos_registry_new(&r), 0);
    int rc = hostos_registry_load_dir(r, HOSTOS_PROFILES_DIR, &err);
    if (rc < 0)
        fail_msg("load shipped profiles: %s", err.message);
    return r;
}

static json_t *full_vars(const char *net_type) {
    json_t *v = json_pack(
        "{s:{s:s,s:s}, s:{s:s}, s:{s:s}, s:{s:s,s:s,s:{s:s,s:s}},"
        " s:{s:s,s:s,s:s,s:b,s:s}}",
        "host", "name", "192.0.2.10", "address", "192.0.2.10", "node", "name", "192.0.2.10",
        "cluster", "name", "prod", "network", "name", "default", "type", net_type, "options",
        "etcd_endpoints", "https://etcd:2379", "address", "flannel.example:8888", "cm", "type",
        "kubernetes", "server_url", "https://k8s.example:6443", "ca",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        "insecure_skip_tls_verify", 0, "token", "secret-token");
    assert_non_null(v);
    return v;
}

static void test_shipped_profiles_are_complete(void **state) {
    struct hostos_registry *r = shipped();
    assert_int_equal(hostos_registry_count(r), 5);
    const char *ids[] = {"fedora", "centos", "rhel", "atomic", "debian"};
    for (size_t i = 0; i < 5; i++) {
        struct hostos_profile *p = hostos_registry_get(r, ids[i]);
        assert_non_null(p);
        assert_true(p->n_bootstrap >= 5);
        assert_true(p->n_teardown >= 1);
        assert_non_null(p->reboot);
        assert_non_null(p->restart);
        assert_non_null(p->upgrade);
        assert_non_null(p->version);
        /* Only rpm-ostree hosts can deploy a version. */
        if (strcmp(ids[i], "atomic") == 0)
            assert_non_null(p->deploy);
        else
            assert_null(p->deploy);
        for (size_t k = 0; k < p->n_bootstrap; k++) {
            assert_non_null(p->bootstrap[k].check);
            assert_non_null(p->bootstrap[k].apply);
            assert_null(strstr(p->bootstrap[k].apply, "{{"));
        }
        /* Every file template renders with the variables the reconciler provides, for both
         * network types. */
        const char *types[] = {"flannel_etcd", "flannel_server"};
        for (size_t t = 0; t < 2; t++) {
            json_t *v = full_vars(types[t]);
            size_t rendered = 0;
            for (size_t k = 0; k < p->n_bootstrap; k++) {
                const struct hostos_step *s = &p->bootstrap[k];
                if (!hostos_conds_hold(s->when, s->n_when, v))
                    continue;
                for (size_t f = 0; f < s->n_files; f++) {
                    if (!hostos_conds_hold(s->files[f].when, s->files[f].n_when, v))
                        continue;
                    char *out = NULL;
                    struct hostos_error err;
                    if (hostos_template_render(s->files[f].content, v, &out, &err) < 0)
                        fail_msg("%s %s: %s", p->id, s->files[f].path, err.message);
                    assert_null(strstr(out, "{{"));
                    free(out);
                    rendered++;
                }
            }
            /* flanneld, docker and the four kubernetes files. */
            assert_int_equal(rendered, 6);
            json_decref(v);
        }
        hostos_profile_unref(p);
    }
    hostos_registry_unref(r);
}

static void test_shipped_fedora_order_and_content(void **state) {
    struct hostos_registry *r = shipped();
    struct hostos_profile *p = hostos_registry_get(r, "fedora");
    const char *order[] = {"container-runtime", "flannel",        "kubernetes-node",
                           "flanneld-service",  "docker-service", "kubernetes-services"};
    assert_int_equal(p->n_bootstrap, 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(p->bootstrap[i].name, order[i]);
    assert_string_equal(p->bootstrap[0].check, "rpm -q docker");
    assert_string_equal(p->bootstrap[0].apply, "dnf -y install docker");
    assert_string_equal(p->upgrade, "dnf -y update");
    assert_string_equal(p->reboot, "systemctl reboot");
    assert_string_equal(p->restart, "systemctl reboot");
    /* The kubeconfig holds a credential: owner-only. */
    const struct hostos_step *ks = &p->bootstrap[5];
    bool found = false;
    for (size_t f = 0; f < ks->n_files; f++) {
        if (strcmp(ks->files[f].path, "/var/lib/kubelet/kubeconfig") == 0) {
            found = true;
            assert_int_equal(ks->files[f].mode, 0600);
            json_t *v = full_vars("flannel_etcd");
            char *out = NULL;
            assert_int_equal(hostos_template_render(ks->files[f].content, v, &out, NULL), 0);
            assert_non_null(strstr(out, "server: \"https://k8s.example:6443\""));
            assert_non_null(strstr(out, "token: \"secret-token\""));
            assert_non_null(strstr(out, "certificate-authority-data: \"LS0tLS1CRUdJTi"));
            free(out);
            json_decref(v);
        }
    }
    assert_true(found);
    /* Without a container manager the kubernetes steps do not apply. */
    json_t *nocm = json_pack("{s:{s:s}}", "network", "type", "flannel_etcd");
    assert_false(hostos_conds_hold(ks->when, ks->n_when, nocm));
    assert_true(hostos_conds_hold(p->bootstrap[0].when, p->bootstrap[0].n_when, nocm));
    json_decref(nocm);
    hostos_profile_unref(p);
    hostos_registry_unref(r);
}

static void expect_match(struct hostos_registry *r, const char *id, const char *like, bool atomic,
                         const char *want) {
    struct hostos_profile *p = NULL;
    struct hostos_error err;
    int rc = hostos_registry_match(r, id, like, atomic, &p, &err);
    if (!want) {
        assert_int_equal(rc, -ENOENT);
        assert_non_null(strstr(err.message, "no OS profile matches"));
        return;
    }
    if (rc < 0)
        fail_msg("%s/%s: %s", id, like, err.message);
    if (strcmp(p->id, want) != 0)
        fail_msg("ID=%s ID_LIKE=%s atomic=%d matched %s, want %s", id, like, atomic, p->id, want);
    hostos_profile_unref(p);
}

static void test_match(void **state) {
    struct hostos_registry *r = shipped();
    expect_match(r, "fedora", "", false, "fedora");
    expect_match(r, "fedora", "", true, "atomic");
    expect_match(r, "centos", "rhel fedora", false, "centos");
    expect_match(r, "centos", "rhel fedora", true, "atomic");
    expect_match(r, "rhel", "fedora", false, "rhel");
    expect_match(r, "rocky", "rhel centos fedora", false, "centos");
    /* Unknown ID: the first ID_LIKE token with a profile decides. */
    expect_match(r, "oracle", "rhel fedora", false, "rhel");
    expect_match(r, "nobara", "fedora", false, "fedora");
    expect_match(r, "debian", "", false, "debian");
    expect_match(r, "ubuntu", "debian", false, "debian");
    expect_match(r, "linuxmint", "ubuntu debian", false, "debian");
    expect_match(r, "slackware", "", false, NULL);
    expect_match(r, "", "", false, NULL);
    expect_match(r, NULL, NULL, false, NULL);
    expect_match(r, "debian", "", true, NULL); /* no rpm-ostree Debian profile */
    /* The message names what the host said. */
    struct hostos_profile *p = NULL;
    struct hostos_error err;
    assert_int_equal(hostos_registry_match(r, "slackware", "", false, &p, &err), -ENOENT);
    assert_non_null(strstr(err.message, "ID=slackware"));
    hostos_registry_unref(r);
}

static void test_deploy_command(void **state) {
    struct hostos_registry *r = shipped();
    struct hostos_profile *a = hostos_registry_get(r, "atomic");
    struct hostos_profile *f = hostos_registry_get(r, "fedora");
    char *cmd = NULL;
    struct hostos_error err;
    assert_int_equal(hostos_profile_deploy_command(a, "29.20191201.0", &cmd, &err), 0);
    assert_string_equal(cmd, "rpm-ostree deploy '29.20191201.0'");
    free(cmd);
    cmd = NULL;
    assert_int_equal(hostos_profile_deploy_command(a, "1; reboot", &cmd, &err), -EINVAL);
    assert_int_equal(hostos_profile_deploy_command(a, "--reboot", &cmd, &err), -EINVAL);
    assert_null(cmd);
    assert_int_equal(hostos_profile_deploy_command(f, "29.1", &cmd, &err), -ENOTSUP);
    assert_non_null(strstr(err.message, "rpm-ostree"));
    assert_string_equal(a->upgrade, "rpm-ostree upgrade");
    hostos_profile_unref(a);
    hostos_profile_unref(f);
    hostos_registry_unref(r);
}

/* A minimal valid profile; %s slots let a test inject one broken line. */
#define MINI(id, extra_step_line)                                                             \
    "id: " id "\n"                                                                           \
    "match:\n"                                                                               \
    "  ids: [" id "]\n"                                                                      \
    "commands:\n"                                                                            \
    "  reboot: systemctl reboot\n"                                                           \
    "  upgrade: pkg up\n"                                                                    \
    "  version: echo 1\n"                                                                    \
    "bootstrap:\n"                                                                           \
    "  - name: one\n"                                                                        \
    "    check: test -e /x\n"                                                                \
    "    apply: touch /x\n" extra_step_line

static void expect_load_error(const char *text, const char *want) {
    struct hostos_registry *r = NULL;
    struct hostos_error err;
    assert_int_equal(hostos_registry_new(&r), 0);
    assert_int_equal(hostos_registry_load_yaml_string(r, text, strlen(text), "t.yaml", &err),
                     -EINVAL);
    if (!strstr(err.message, want))
        fail_msg("error '%s' does not contain '%s'", err.message, want);
    assert_int_equal(hostos_registry_count(r), 0);
    hostos_registry_unref(r);
}

static void test_malformed_profiles(void **state) {
    /* Sanity: the mini profile itself loads. */
    struct hostos_registry *r = NULL;
    assert_int_equal(hostos_registry_new(&r), 0);
    const char *ok = MINI("mini", "");
    assert_int_equal(hostos_registry_load_yaml_string(r, ok, strlen(ok), "t.yaml", NULL), 0);
    hostos_registry_unref(r);

    expect_load_error(MINI("mini", "    chek: typo\n"),
                      "t.yaml:12: unknown key 'chek' in bootstrap step (allowed: name, "
                      "description, when, files, check, apply, timeout)");
    expect_load_error(MINI("mini", "  - name: two\n    check: true\n"),
                      "t.yaml:12: step 'two' has no 'apply'");
    expect_load_error(MINI("mini", "  - name: two\n    apply: x\n"),
                      "t.yaml:12: step 'two' has no 'check'");
    expect_load_error(MINI("mini", "  - name: two\n    check: x\n    apply: echo {{node.name}}\n"),
                      "t.yaml:14: step 'two': apply contains '{{'");
    expect_load_error(MINI("mini", "  - name: one\n    check: x\n    apply: y\n"),
                      "t.yaml:12: bootstrap step name 'one' is used twice (first at line 9)");
    expect_load_error(MINI("mini", "  - name: Two\n    check: x\n    apply: y\n"),
                      "t.yaml:12: bootstrap step name 'Two' must be lower-case");
    expect_load_error(MINI("mini", "    timeout: 0\n"),
                      "t.yaml:12: timeout must be an integer from 1 to 86400, not '0'");
    expect_load_error(MINI("mini", "    files:\n      - path: etc/x\n        content: a\n"),
                      "t.yaml:13: file of step 'one': path 'etc/x' must be an absolute");
    expect_load_error(MINI("mini", "    files:\n      - path: /etc/../x\n        content: a\n"),
                      "path '/etc/../x' must be an absolute file path without '..'");
    expect_load_error(
        MINI("mini", "    files:\n      - path: /etc/x\n        mode: \"0999\"\n        content: a\n"),
        "t.yaml:14: file of step 'one': mode '0999' must be octal");
    expect_load_error(MINI("mini", "    files:\n      - path: /etc/x\n        content: |\n"
                                   "          a\n          b {{node.name\n"),
                      "t.yaml:14: file of step 'one' /etc/x: template line 2: unterminated {{");
    expect_load_error(MINI("mini", "    files:\n      - path: /etc/x\n        content: "
                                   "\"{{a | upper}}\"\n"),
                      "unknown filter 'upper'");
    expect_load_error(MINI("mini", "    files:\n      - path: /etc/x\n"),
                      "t.yaml:13: file of step 'one' has no 'content'");
    expect_load_error(MINI("mini", "    when: [a]\n"),
                      "t.yaml:12: step 'one' must be a mapping, not a list");
    expect_load_error(MINI("mini", "    when: {\"bad var\": x}\n"),
                      "'bad var' is not a variable path");
    expect_load_error(MINI("mini", "    apply: again\n"),
                      "t.yaml:12: key 'apply' appears twice in bootstrap step");
    expect_load_error(MINI("mini", "  oops: [\n"), "t.yaml:12: YAML error");
    expect_load_error("- just text\n", "t.yaml:1: a profile must be a mapping, not a text value");
    expect_load_error("42\n", "expected a profile (a mapping) or a list of profiles");
    expect_load_error("id: Bad_Id\n", "profile id 'Bad_Id' must be lower-case");
    expect_load_error("id: x\nmatch: {atomic: maybe, ids: [x]}\n",
                      "t.yaml:2: match: atomic must be true or false, not 'maybe'");
    expect_load_error("id: x\nmatch: {atomic: true}\n",
                      "t.yaml:2: match needs at least one entry in ids or like");
    expect_load_error("id: x\nmatch: {ids: [x]}\n", "t.yaml:1: profile 'x' has no 'commands'");
    expect_load_error("id: x\nmatch: {ids: [x]}\ncommands: {reboot: r, version: v}\n",
                      "t.yaml:3: commands has no 'upgrade'");
    expect_load_error("id: x\nmatch: {ids: [x]}\ncommands: {reboot: r, version: v, upgrade: u,"
                      " deploy: rpm-ostree deploy}\n",
                      "t.yaml:3: commands: deploy must contain {{version}} exactly once");
    expect_load_error("id: x\nmatch: {ids: [x]}\ncommands: {reboot: r, version: v, upgrade: u,"
                      " deploy: \"d {{version}} {{version}}\"}\n",
                      "no placeholder other than {{version}}, once");
    expect_load_error("id: x\nmatch: {ids: [x]}\ncommands: {reboot: \"  \", version: v, upgrade: u}"
                      "\n",
                      "commands: reboot is empty");
    expect_load_error("id: x\nmatch: {ids: [x]}\ncommands: {reboot: r, version: v, upgrade: u}\n",
                      "t.yaml:1: profile 'x' has no 'bootstrap' steps");
    expect_load_error("id: x\nflavour: y\n", "t.yaml:2: unknown key 'flavour' in profile");
    /* All or nothing: a good profile before a bad one in the same text is not added. */
    expect_load_error(MINI("good", "") "---\n" MINI("bad", "    chek: x\n"), "t.yaml:24:");
    expect_load_error("- " "id: a\n", "has no 'match'");
}

static void test_teardown_check_optional(void **state) {
    struct hostos_registry *r = NULL;
    assert_int_equal(hostos_registry_new(&r), 0);
    const char *t = MINI("mini", "teardown:\n  - name: wipe\n    apply: rm -f /x\n");
    struct hostos_error err;
    int rc = hostos_registry_load_yaml_string(r, t, strlen(t), "t.yaml", &err);
    if (rc < 0)
        fail_msg("%s", err.message);
    struct hostos_profile *p = hostos_registry_get(r, "mini");
    assert_int_equal(p->n_teardown, 1);
    assert_null(p->teardown[0].check);
    assert_string_equal(p->teardown[0].apply, "rm -f /x");
    assert_string_equal(p->restart, "systemctl reboot");
    assert_string_equal(p->source, "t.yaml:1");
    hostos_profile_unref(p);
    hostos_registry_unref(r);
}

static void test_override_precedence(void **state) {
    struct hostos_registry *r = shipped();
    struct hostos_profile *old = hostos_registry_get(r, "fedora");
    /* A ConfigMap (string) replaces the shipped fedora profile by id and adds a new one, as a
     * list of profiles. */
    const char *cm = "- " "id: fedora\n"
                     "  match: {ids: [fedora], atomic: false}\n"
                     "  commands: {reboot: systemctl reboot, upgrade: dnf -y upgrade --refresh,"
                     " version: echo 39}\n"
                     "  bootstrap: []\n"
                     "- id: slackware\n"
                     "  match: {ids: [slackware]}\n"
                     "  commands: {reboot: reboot, upgrade: slackpkg upgrade-all, version: echo 15}\n"
                     "  bootstrap: []\n";
    struct hostos_error err;
    int rc = hostos_registry_load_yaml_string(r, cm, strlen(cm), "configmap/profiles", &err);
    if (rc < 0)
        fail_msg("%s", err.message);
    assert_int_equal(hostos_registry_count(r), 6);
    struct hostos_profile *nf = hostos_registry_get(r, "fedora");
    assert_string_equal(nf->upgrade, "dnf -y upgrade --refresh");
    assert_int_equal(nf->n_bootstrap, 0);
    assert_string_equal(nf->source, "configmap/profiles:1");
    /* The reference taken before the override still reads the old profile. */
    assert_string_equal(old->upgrade, "dnf -y update");
    hostos_profile_unref(old);
    hostos_profile_unref(nf);
    expect_match(r, "slackware", "", false, "slackware");

    /* An override directory: *.yaml / *.yml only, name order; a later load wins. */
    char tmpl[] = "/tmp/hostos-test-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    char path[256];
    snprintf(path, sizeof(path), "%s/a.yaml", dir);
    FILE *f = fopen(path, "w");
    fputs("id: debian\nmatch: {ids: [debian]}\n"
          "commands: {reboot: systemctl reboot, upgrade: apt-get -y upgrade, version: echo 12}\n"
          "bootstrap: []\n",
          f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/notes.txt", dir);
    f = fopen(path, "w");
    fputs("not: [a profile\n", f);
    fclose(f);
    assert_int_equal(hostos_registry_load_dir(r, dir, &err), 0);
    assert_int_equal(hostos_registry_count(r), 6);
    struct hostos_profile *d = hostos_registry_get(r, "debian");
    assert_string_equal(d->upgrade, "apt-get -y upgrade");
    hostos_profile_unref(d);
    /* The same id in two files of one directory is an error, and nothing of it is loaded. */
    snprintf(path, sizeof(path), "%s/b.yml", dir);
    f = fopen(path, "w");
    fputs("id: debian\nmatch: {ids: [debian]}\n"
          "commands: {reboot: systemctl reboot, upgrade: apt-get -y full-upgrade, version: echo 12}\n"
          "bootstrap: []\n",
          f);
    fclose(f);
    assert_int_equal(hostos_registry_load_dir(r, dir, &err), -EINVAL);
    assert_non_null(strstr(err.message, "profile id 'debian' is defined twice"));
    d = hostos_registry_get(r, "debian");
    assert_string_equal(d->upgrade, "apt-get -y upgrade");
    hostos_profile_unref(d);
    snprintf(path, sizeof(path), "%s/a.yaml", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/b.yml", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/notes.txt", dir);
    unlink(path);
    rmdir(dir);
    assert_int_equal(hostos_registry_load_dir(r, "/nonexistent/hostos", &err), -ENOENT);
    hostos_registry_unref(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_profiles_are_complete),
        cmocka_unit_test(test_shipped_fedora_order_and_content),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_deploy_command),
        cmocka_unit_test(test_malformed_profiles),
        cmocka_unit_test(test_teardown_check_optional),
        cmocka_unit_test(test_override_precedence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
