/* The Host reconciler's view of the shipped OS profiles: matching facts to a profile, and plans
 * rendered with the variables host_vars builds (steps filtered by `when`, files rendered). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "host_profile.h"
#include "host_vars.h"
#include "hostos.h"
#include "sshc_facts.h"

static struct hostos_registry *reg;

static int setup(void **state) {
    struct hostos_error err = {{0}};
    assert_int_equal(hostos_registry_new(&reg), 0);
    if (hostos_registry_load_dir(reg, PROFILES_DIR, &err) < 0)
        fail_msg("loading %s: %s", PROFILES_DIR, err.message);
    return 0;
}

static int teardown(void **state) {
    hostos_registry_unref(reg);
    return 0;
}

static const char *match(const char *id, const char *like, bool atomic, char *msg, size_t n) {
    struct sshc_facts f = {.os_id = (char *)id, .os_id_like = (char *)like, .atomic = atomic};
    const char *name = NULL;
    return hp_match(reg, &f, &name, msg, n) == 0 ? name : NULL;
}

static void test_match(void **state) {
    char msg[512];
    assert_string_equal(match("fedora", "", false, msg, sizeof msg), "fedora");
    assert_string_equal(match("fedora", "", true, msg, sizeof msg), "atomic");
    assert_string_equal(match("centos", "rhel fedora", false, msg, sizeof msg), "centos");
    assert_string_equal(match("rhel", "fedora", false, msg, sizeof msg), "rhel");
    assert_string_equal(match("debian", "", false, msg, sizeof msg), "debian");
    /* a relative known only through ID_LIKE gets a profile of its family (hostos decides which) */
    const char *rocky = match("rocky", "rhel centos fedora", false, msg, sizeof msg);
    assert_non_null(rocky);
    assert_true(!strcmp(rocky, "rhel") || !strcmp(rocky, "centos"));
    assert_null(match("slackware", "", false, msg, sizeof msg));
    assert_non_null(strstr(msg, "slackware"));
}

static json_t *vars(const char *cm_type, const char *net_type, const char *net_addr) {
    json_t *h = json_pack("{s:{s:s},s:{s:s}}", "metadata", "name", "10.0.0.5", "spec", "address",
                          "10.0.0.5");
    json_t *cl = json_pack("{s:{s:s}}", "metadata", "name", "prod");
    json_t *net = json_pack("{s:{s:s},s:{s:s,s:{}}}", "metadata", "name", "overlay", "spec",
                            "type", net_type, "options");
    if (net_addr)
        json_object_set_new(json_object_get(json_object_get(net, "spec"), "options"), "address",
                            json_string(net_addr));
    json_t *cm = cm_type ? json_pack("{s:{s:s},s:{s:s}}", "metadata", "name", "cm", "spec",
                                     "type", cm_type)
                         : NULL;
    struct host_vars_input in = {.host = h, .cluster = cl, .network = net, .cm = cm,
                                 .node_name = "10.0.0.5", .server = "https://api.example:6443",
                                 .token = "tok3n"};
    json_t *v = host_vars_build(&in);
    json_decref(h);
    json_decref(cl);
    json_decref(net);
    json_decref(cm);
    return v;
}

static const struct hp_step *find(const struct hp_plan *p, const char *name) {
    for (size_t i = 0; i < hp_plan_n_steps(p); i++)
        if (!strcmp(hp_plan_step(p, i)->name, name))
            return hp_plan_step(p, i);
    return NULL;
}

static const struct hp_file *file(const struct hp_step *s, const char *path) {
    for (size_t i = 0; s && i < s->n_files; i++)
        if (!strcmp(s->files[i].path, path))
            return &s->files[i];
    return NULL;
}

static void test_managed_plan(void **state) {
    char msg[512] = "";
    json_t *v = vars("kubernetes", "flannel_etcd", NULL);
    struct hp_plan *p = NULL;
    if (hp_plan_new(reg, "fedora", v, &p, msg, sizeof msg) < 0)
        fail_msg("%s", msg);
    assert_string_equal(hp_plan_profile(p), "fedora");
    /* the kubernetes steps are in, with the kubelet's kubeconfig rendered */
    const struct hp_step *k = find(p, "kubernetes-services");
    assert_non_null(k);
    const struct hp_file *kc = file(k, "/var/lib/kubelet/kubeconfig");
    assert_non_null(kc);
    assert_int_equal(kc->mode, 0600);
    assert_non_null(strstr(kc->data, "https://api.example:6443"));
    assert_non_null(strstr(kc->data, "tok3n"));
    assert_non_null(strstr(file(k, "/etc/kubernetes/kubelet")->data, "10.0.0.5"));
    /* flannel from the etcd network: exactly one flanneld file */
    const struct hp_step *f = find(p, "flanneld-service");
    assert_non_null(f);
    assert_int_equal(f->n_files, 1);
    assert_non_null(strstr(f->files[0].data, "FLANNEL_ETCD_PREFIX=\"/atomic01/network\""));
    assert_non_null(f->check);
    assert_non_null(f->apply);
    hp_plan_free(p);
    host_vars_free(v);
}

static void test_unmanaged_plan_and_flannel_server(void **state) {
    char msg[512] = "";
    json_t *v = vars("trivial", "flannel_server", "10.1.1.1:8888");
    struct hp_plan *p = NULL;
    if (hp_plan_new(reg, "debian", v, &p, msg, sizeof msg) < 0)
        fail_msg("%s", msg);
    assert_null(find(p, "kubernetes-services")); /* trivial: no kubelet */
    assert_null(find(p, "kubernetes-node"));
    const struct hp_step *f = find(p, "flanneld-service");
    assert_non_null(f);
    assert_int_equal(f->n_files, 1);
    assert_non_null(strstr(f->files[0].data, "--remote=10.1.1.1:8888"));
    assert_true(hp_plan_n_teardown(p) > 0);
    assert_non_null(hp_plan_teardown(p, 0)->apply);
    hp_plan_free(p);
    host_vars_free(v);
}

static void test_template_error_names_the_file(void **state) {
    char msg[512] = "";
    /* flannel_server without options.address cannot be rendered */
    json_t *v = vars(NULL, "flannel_server", NULL);
    struct hp_plan *p = NULL;
    assert_int_equal(hp_plan_new(reg, "fedora", v, &p, msg, sizeof msg), -EINVAL);
    assert_null(p);
    assert_non_null(strstr(msg, "/etc/sysconfig/flanneld"));
    assert_int_equal(hp_plan_new(reg, "no-such-profile", v, &p, msg, sizeof msg), -ENOENT);
    host_vars_free(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_managed_plan),
        cmocka_unit_test(test_unmanaged_plan_and_flannel_server),
        cmocka_unit_test(test_template_error_names_the_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
