/* Unit tests of kl_patch: RFC 7386 and RFC 6902 appendix vectors, and strategic merge patch
 * directives and list semantics as the API server applies them (including what kubectl's
 * client-side apply sends). JSON in the tables is written with single quotes for readability. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kl_patch.h"

/* Parses JSON written with ' instead of " (the tests never need a literal '). */
static json_t *J(const char *s)
{
    char *d = strdup(s);
    json_error_t e;
    json_t *j;

    for (char *p = d; *p; p++)
        if (*p == '\'')
            *p = '"';
    j = json_loads(d, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test JSON %s: %s", s, e.text);
    free(d);
    return j;
}

static void assert_json_eq(const json_t *got, const char *want_s)
{
    json_t *want = J(want_s);
    if (!json_equal((json_t *)got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        fail_msg("got  %s\nwant %s", g, w);
    }
    json_decref(want);
}

/* Exact order check (json_equal ignores nothing for arrays, but be explicit about key order
 * not mattering and list order mattering). */

struct vec {
    const char *target, *patch, *want; /* want NULL: error expected */
    int err;
};

/* RFC 7386 Appendix A, restricted to object patches (Kubernetes objects are objects). */
static const struct vec merge_vecs[] = {
    {"{'a':'b'}", "{'a':'c'}", "{'a':'c'}", 0},
    {"{'a':'b'}", "{'b':'c'}", "{'a':'b','b':'c'}", 0},
    {"{'a':'b'}", "{'a':null}", "{}", 0},
    {"{'a':'b','b':'c'}", "{'a':null}", "{'b':'c'}", 0},
    {"{'a':['b']}", "{'a':'c'}", "{'a':'c'}", 0},
    {"{'a':'c'}", "{'a':['b']}", "{'a':['b']}", 0},
    {"{'a':{'b':'c'}}", "{'a':{'b':'d','c':null}}", "{'a':{'b':'d'}}", 0},
    {"{'a':[{'b':'c'}]}", "{'a':[1]}", "{'a':[1]}", 0},
    {"{'e':null}", "{'a':1}", "{'e':null,'a':1}", 0},
    {"[1,2]", "{'a':'b','c':null}", "{'a':'b'}", 0},
    {"{}", "{'a':{'bb':{'ccc':null}}}", "{'a':{'bb':{}}}", 0},
    {"{'a':1}", "['c']", NULL, -EBADMSG},
    {"{'a':1}", "'bar'", NULL, -EBADMSG},
};

static void run_vecs(const struct vec *v, size_t n, int (*fn)(json_t **, const json_t *, char **))
{
    for (size_t i = 0; i < n; i++) {
        json_t *t = J(v[i].target), *p = J(v[i].patch), *orig = json_deep_copy(t);
        char *err = NULL;
        int r = fn(&t, p, &err);
        if (v[i].want) {
            if (r != 0)
                fail_msg("case %zu: unexpected error %d %s", i, r, err ? err : "");
            assert_json_eq(t, v[i].want);
        } else {
            if (r != v[i].err)
                fail_msg("case %zu: got %d want %d (%s)", i, r, v[i].err, err ? err : "");
            assert_non_null(err);
            /* A failed patch leaves the target exactly as it was. */
            assert_true(json_equal(t, orig));
        }
        free(err);
        json_decref(t);
        json_decref(p);
        json_decref(orig);
    }
}

static void test_merge_rfc7386(void **state)
{
    (void)state;
    run_vecs(merge_vecs, sizeof(merge_vecs) / sizeof(merge_vecs[0]), kl_patch_merge);
}

/* RFC 6902 Appendix A (A.13 duplicate keys is a JSON parser matter and not applicable). */
static const struct vec json_vecs[] = {
    /* A.1 */ {"{'foo':'bar'}", "[{'op':'add','path':'/baz','value':'qux'}]", "{'baz':'qux','foo':'bar'}", 0},
    /* A.2 */ {"{'foo':['bar','baz']}", "[{'op':'add','path':'/foo/1','value':'qux'}]", "{'foo':['bar','qux','baz']}", 0},
    /* A.3 */ {"{'baz':'qux','foo':'bar'}", "[{'op':'remove','path':'/baz'}]", "{'foo':'bar'}", 0},
    /* A.4 */ {"{'foo':['bar','qux','baz']}", "[{'op':'remove','path':'/foo/1'}]", "{'foo':['bar','baz']}", 0},
    /* A.5 */ {"{'baz':'qux','foo':'bar'}", "[{'op':'replace','path':'/baz','value':'boo'}]", "{'baz':'boo','foo':'bar'}", 0},
    /* A.6 */ {"{'foo':{'bar':'baz','waldo':'fred'},'qux':{'corge':'grault'}}",
               "[{'op':'move','from':'/foo/waldo','path':'/qux/thud'}]",
               "{'foo':{'bar':'baz'},'qux':{'corge':'grault','thud':'fred'}}", 0},
    /* A.7 */ {"{'foo':['all','grass','cows','eat']}", "[{'op':'move','from':'/foo/1','path':'/foo/3'}]",
               "{'foo':['all','cows','eat','grass']}", 0},
    /* A.8 */ {"{'baz':'qux','foo':['a',2,'c']}",
               "[{'op':'test','path':'/baz','value':'qux'},{'op':'test','path':'/foo/1','value':2}]",
               "{'baz':'qux','foo':['a',2,'c']}", 0},
    /* A.9 */ {"{'baz':'qux'}", "[{'op':'test','path':'/baz','value':'bar'}]", NULL, -EINVAL},
    /* A.10 */ {"{'foo':'bar'}", "[{'op':'add','path':'/child','value':{'grandchild':{}}}]",
                "{'foo':'bar','child':{'grandchild':{}}}", 0},
    /* A.11 */ {"{'foo':'bar'}", "[{'op':'add','path':'/baz','value':'qux','xyz':123}]", "{'foo':'bar','baz':'qux'}", 0},
    /* A.12 */ {"{'foo':'bar'}", "[{'op':'add','path':'/baz/bat','value':'qux'}]", NULL, -EINVAL},
    /* A.14 */ {"{'/':9,'~1':10}", "[{'op':'test','path':'/~01','value':10}]", "{'/':9,'~1':10}", 0},
    /* A.15 */ {"{'/':9,'~1':10}", "[{'op':'test','path':'/~01','value':'10'}]", NULL, -EINVAL},
    /* A.16 */ {"{'foo':['bar']}", "[{'op':'add','path':'/foo/-','value':['abc','def']}]", "{'foo':['bar',['abc','def']]}", 0},
    /* ~1 addresses a key with a slash (labels and annotations) */
    {"{'metadata':{'labels':{}}}", "[{'op':'add','path':'/metadata/labels/commissaire.io~1cluster','value':'c1'}]",
     "{'metadata':{'labels':{'commissaire.io/cluster':'c1'}}}", 0},
    /* copy */
    {"{'a':{'x':1}}", "[{'op':'copy','from':'/a','path':'/b'}]", "{'a':{'x':1},'b':{'x':1}}", 0},
    /* atomic: the first op would succeed, the test fails: nothing applied */
    {"{'a':1}", "[{'op':'replace','path':'/a','value':2},{'op':'test','path':'/a','value':3}]", NULL, -EINVAL},
    /* replace of a missing key, remove of a missing key, bad index */
    {"{'a':1}", "[{'op':'replace','path':'/b','value':2}]", NULL, -EINVAL},
    {"{'a':1}", "[{'op':'remove','path':'/b'}]", NULL, -EINVAL},
    {"{'a':[1]}", "[{'op':'add','path':'/a/5','value':2}]", NULL, -EINVAL},
    /* malformed documents */
    {"{'a':1}", "[{'op':'frob','path':'/a'}]", NULL, -EBADMSG},
    {"{'a':1}", "[{'op':'add','path':'/a'}]", NULL, -EBADMSG},
    {"{'a':1}", "{'op':'add','path':'/a','value':1}", NULL, -EBADMSG},
    {"{'a':1}", "[{'op':'move','path':'/b'}]", NULL, -EBADMSG},
    /* move into own child */
    {"{'a':{'b':1}}", "[{'op':'move','from':'/a','path':'/a/b/c'}]", NULL, -EINVAL},
    /* numbers compare by value in test */
    {"{'a':1}", "[{'op':'test','path':'/a','value':1.0}]", "{'a':1}", 0},
};

static void test_json_rfc6902(void **state)
{
    (void)state;
    run_vecs(json_vecs, sizeof(json_vecs) / sizeof(json_vecs[0]), kl_patch_json);
}

static void test_json_messages(void **state)
{
    json_t *t = J("{'baz':'qux'}"), *p = J("[{'op':'test','path':'/baz','value':'bar'}]");
    char *err = NULL;
    (void)state;
    assert_int_equal(kl_patch_json(&t, p, &err), -EINVAL);
    assert_string_equal(err, "testing value /baz failed: test failed");
    free(err);
    err = NULL;
    json_decref(p);
    p = J("[{'op':'add','path':'/x/y','value':1}]");
    assert_int_equal(kl_patch_json(&t, p, &err), -EINVAL);
    assert_string_equal(err, "add operation does not apply: doc is missing path: \"/x/y\": missing value");
    free(err);
    json_decref(p);
    json_decref(t);
}

/* Strategic merge patch cases: kind, target, patch, want. */
struct smp {
    const char *group, *kind, *target, *patch, *want;
    int err;
};

static const struct smp smp_vecs[] = {
    /* containers merge by name, order kept */
    {"", "Pod", "{'spec':{'containers':[{'name':'a','image':'x'},{'name':'b','image':'y'}]}}",
     "{'spec':{'containers':[{'name':'b','image':'z'}]}}",
     "{'spec':{'containers':[{'name':'a','image':'x'},{'name':'b','image':'z'}]}}", 0},
    /* a new element goes before the live-only ones: mergeSortedSlice puts patch items that have
     * no position in the live list first (without $setElementOrder, as kubectl patch sends) */
    {"", "Pod", "{'spec':{'containers':[{'name':'a','image':'x'}]}}", "{'spec':{'containers':[{'name':'c','image':'w'}]}}",
     "{'spec':{'containers':[{'name':'c','image':'w'},{'name':'a','image':'x'}]}}", 0},
    /* $patch: delete removes by merge key */
    {"", "Pod", "{'spec':{'containers':[{'name':'a'},{'name':'b'}]}}", "{'spec':{'containers':[{'name':'a','$patch':'delete'}]}}",
     "{'spec':{'containers':[{'name':'b'}]}}", 0},
    /* $patch: replace as a list element replaces the list */
    {"", "Pod", "{'spec':{'containers':[{'name':'a'},{'name':'b'}]}}",
     "{'spec':{'containers':[{'$patch':'replace'},{'name':'c','image':'i'}]}}", "{'spec':{'containers':[{'name':'c','image':'i'}]}}", 0},
    /* $setElementOrder reorders */
    {"", "Pod", "{'spec':{'containers':[{'name':'a','image':'x'},{'name':'b','image':'y'}]}}",
     "{'spec':{'$setElementOrder/containers':[{'name':'b'},{'name':'a'}],'containers':[{'name':'a','image':'q'}]}}",
     "{'spec':{'containers':[{'name':'b','image':'y'},{'name':'a','image':'q'}]}}", 0},
    /* env merges by name inside a container */
    {"apps", "Deployment",
     "{'spec':{'template':{'spec':{'containers':[{'name':'a','env':[{'name':'X','value':'1'},{'name':'Y','value':'2'}]}]}}}}",
     "{'spec':{'template':{'spec':{'containers':[{'name':'a','env':[{'name':'Y','value':'3'},{'name':'Z','value':'4'}]}]}}}}",
     "{'spec':{'template':{'spec':{'containers':[{'name':'a','env':[{'name':'X','value':'1'},{'name':'Y','value':'3'},{'name':'Z','value':'4'}]}]}}}}",
     0},
    /* ports merge by containerPort; volumeMounts by mountPath */
    {"", "Pod", "{'spec':{'containers':[{'name':'a','ports':[{'containerPort':80},{'containerPort':443}],'volumeMounts':[{'mountPath':'/a','name':'v'}]}]}}",
     "{'spec':{'containers':[{'name':'a','ports':[{'containerPort':443,'name':'https'}],'volumeMounts':[{'mountPath':'/a','readOnly':true}]}]}}",
     "{'spec':{'containers':[{'name':'a','ports':[{'containerPort':80},{'containerPort':443,'name':'https'}],'volumeMounts':[{'mountPath':'/a','name':'v','readOnly':true}]}]}}",
     0},
    /* finalizers: scalar set union, and $deleteFromPrimitiveList */
    {"", "ConfigMap", "{'metadata':{'finalizers':['a','b']}}", "{'metadata':{'finalizers':['c','a']}}",
     "{'metadata':{'finalizers':['c','a','b']}}", 0},
    {"", "ConfigMap", "{'metadata':{'finalizers':['a','b']}}",
     "{'metadata':{'$setElementOrder/finalizers':['a','b','c'],'finalizers':['c']}}",
     "{'metadata':{'finalizers':['a','b','c']}}", 0},
    {"", "ConfigMap", "{'metadata':{'finalizers':['a','b','c']}}", "{'metadata':{'$deleteFromPrimitiveList/finalizers':['a','c']}}",
     "{'metadata':{'finalizers':['b']}}", 0},
    /* ownerReferences merge by uid */
    {"", "Secret", "{'metadata':{'ownerReferences':[{'uid':'1','name':'x'}]}}",
     "{'metadata':{'ownerReferences':[{'uid':'2','name':'y'}]}}",
     "{'metadata':{'ownerReferences':[{'uid':'2','name':'y'},{'uid':'1','name':'x'}]}}", 0},
    /* tolerations have no strategy: replaced */
    {"", "Pod", "{'spec':{'tolerations':[{'key':'a'}]}}", "{'spec':{'tolerations':[{'key':'b'}]}}",
     "{'spec':{'tolerations':[{'key':'b'}]}}", 0},
    /* null deletes; maps merge */
    {"", "ConfigMap", "{'metadata':{'labels':{'a':'1','b':'2'}},'data':{'k':'v'}}", "{'metadata':{'labels':{'a':null,'c':'3'}}}",
     "{'metadata':{'labels':{'b':'2','c':'3'}},'data':{'k':'v'}}", 0},
    /* $retainKeys (Deployment spec.strategy) */
    {"apps", "Deployment", "{'spec':{'strategy':{'type':'RollingUpdate','rollingUpdate':{'maxSurge':1}}}}",
     "{'spec':{'strategy':{'$retainKeys':['type'],'type':'Recreate'}}}", "{'spec':{'strategy':{'type':'Recreate'}}}", 0},
    /* $retainKeys inside a volumes element (patchStrategy merge,retainKeys) */
    {"", "Pod", "{'spec':{'volumes':[{'name':'v','configMap':{'name':'c'}}]}}",
     "{'spec':{'volumes':[{'$retainKeys':['name','secret'],'name':'v','secret':{'secretName':'s'}}]}}",
     "{'spec':{'volumes':[{'name':'v','secret':{'secretName':'s'}}]}}", 0},
    /* a key outside $retainKeys is a malformed patch */
    {"apps", "Deployment", "{'spec':{'strategy':{'type':'RollingUpdate'}}}",
     "{'spec':{'strategy':{'$retainKeys':['type'],'type':'Recreate','rollingUpdate':{}}}}", NULL, -EBADMSG},
    /* map directives */
    {"", "ConfigMap", "{'metadata':{'labels':{'a':'1'}}}", "{'metadata':{'labels':{'$patch':'replace','x':'y'}}}",
     "{'metadata':{'labels':{'x':'y'}}}", 0},
    {"", "ConfigMap", "{'metadata':{'labels':{'a':'1'}}}", "{'metadata':{'labels':{'$patch':'delete'}}}",
     "{'metadata':{'labels':{}}}", 0},
    {"", "ConfigMap", "{'metadata':{'labels':{'a':'1'}}}", "{'metadata':{'labels':{'$patch':'frob'}}}", NULL, -EBADMSG},
    /* PodDisruptionBudget spec.selector has patchStrategy replace */
    {"policy", "PodDisruptionBudget", "{'spec':{'selector':{'matchLabels':{'a':'1'}},'minAvailable':1}}",
     "{'spec':{'selector':{'matchLabels':{'b':'2'}}}}", "{'spec':{'selector':{'matchLabels':{'b':'2'}},'minAvailable':1}}", 0},
    /* Service ports merge by port */
    {"", "Service", "{'spec':{'ports':[{'port':80,'name':'http'},{'port':443,'name':'https'}]}}",
     "{'spec':{'ports':[{'port':80,'targetPort':8080}]}}",
     "{'spec':{'ports':[{'port':80,'name':'http','targetPort':8080},{'port':443,'name':'https'}]}}", 0},
    /* Node status conditions merge by type, addresses by type */
    {"", "Node", "{'status':{'conditions':[{'type':'Ready','status':'False'},{'type':'MemoryPressure','status':'False'}]}}",
     "{'status':{'conditions':[{'type':'Ready','status':'True'}]}}",
     "{'status':{'conditions':[{'type':'Ready','status':'True'},{'type':'MemoryPressure','status':'False'}]}}", 0},
    /* a list element without its merge key is refused */
    {"", "Pod", "{'spec':{'containers':[{'name':'a'}]}}", "{'spec':{'containers':[{'image':'x'}]}}", NULL, -EBADMSG},
    /* type mismatch: the patch value wins */
    {"apps", "Deployment", "{'spec':{'replicas':1}}", "{'spec':{'replicas':'2'}}", "{'spec':{'replicas':'2'}}", 0},
    /* directives are dropped when a value is taken over unmerged (no original list) */
    {"", "Pod", "{'spec':{}}",
     "{'spec':{'$setElementOrder/containers':[{'name':'a'}],'containers':[{'name':'a','image':'x'}]}}",
     "{'spec':{'containers':[{'name':'a','image':'x'}]}}", 0},
    {"", "Pod", "{}", "{'spec':{'containers':[{'name':'a','image':'x','env':[{'name':'E','value':null}]}]}}",
     "{'spec':{'containers':[{'name':'a','image':'x','env':[{'name':'E'}]}]}}", 0},
    /* the whole object: $patch delete at the top gives {} */
    {"", "ConfigMap", "{'data':{'a':'b'}}", "{'$patch':'delete'}", "{}", 0},
    /* custom resources have no strategic merge patch */
    {"commissaire.io", "Host", "{}", "{'spec':{}}", NULL, -EPROTONOSUPPORT},
};

static void test_strategic(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(smp_vecs) / sizeof(smp_vecs[0]); i++) {
        const struct smp *v = &smp_vecs[i];
        json_t *t = J(v->target), *p = J(v->patch), *orig = json_deep_copy(t);
        char *err = NULL;
        int r = kl_patch_strategic(&t, p, v->group, v->kind, &err);
        if (v->want) {
            if (r != 0)
                fail_msg("smp case %zu: unexpected error %d %s", i, r, err ? err : "");
            assert_json_eq(t, v->want);
        } else {
            if (r != v->err)
                fail_msg("smp case %zu: got %d want %d (%s)", i, r, v->err, err ? err : "");
            assert_non_null(err);
            assert_true(json_equal(t, orig));
        }
        free(err);
        json_decref(t);
        json_decref(p);
        json_decref(orig);
    }
}

static void test_strategic_merge_key_message(void **state)
{
    json_t *t = J("{'spec':{'containers':[{'name':'a'}]}}"), *p = J("{'spec':{'containers':[{'image':'x'}]}}");
    char *err = NULL;
    (void)state;
    assert_int_equal(kl_patch_strategic(&t, p, "", "Pod", &err), -EBADMSG);
    assert_string_equal(err, "map: map[image:x] does not contain declared merge key: name");
    free(err);
    json_decref(t);
    json_decref(p);
}

/* What kubectl apply sends for a Deployment whose image changed and a container was added in
 * the manifest (three-way patch with $setElementOrder), then the re-apply (nothing changed:
 * kubectl sends only the unchanged annotation, which must be a no-op). */
static void test_kubectl_apply_shape(void **state)
{
    json_t *live = J("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'d','annotations':{"
                     "'kubectl.kubernetes.io/last-applied-configuration':'old'},'resourceVersion':'5'},"
                     "'spec':{'replicas':1,'template':{'spec':{'containers':[{'name':'app','image':'a:1',"
                     "'terminationMessagePath':'/dev/termination-log'}]}}},'status':{'replicas':1}}");
    json_t *patch = J("{'metadata':{'annotations':{'kubectl.kubernetes.io/last-applied-configuration':'new'}},"
                      "'spec':{'template':{'spec':{'$setElementOrder/containers':[{'name':'sidecar'},{'name':'app'}],"
                      "'containers':[{'image':'s:1','name':'sidecar'},{'image':'a:2','name':'app'}]}}}}");
    json_t *again = J("{'metadata':{'annotations':{'kubectl.kubernetes.io/last-applied-configuration':'new'}}}");
    json_t *before;
    char *err = NULL;
    (void)state;

    assert_int_equal(kl_patch_strategic(&live, patch, "apps", "Deployment", &err), 0);
    assert_json_eq(live, "{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'d','annotations':{"
                         "'kubectl.kubernetes.io/last-applied-configuration':'new'},'resourceVersion':'5'},"
                         "'spec':{'replicas':1,'template':{'spec':{'containers':[{'image':'s:1','name':'sidecar'},"
                         "{'name':'app','image':'a:2','terminationMessagePath':'/dev/termination-log'}]}}},"
                         "'status':{'replicas':1}}");
    /* Order is part of the contract: sidecar first, as $setElementOrder says. */
    {
        json_t *cs = json_object_get(json_object_get(json_object_get(json_object_get(live, "spec"), "template"), "spec"),
                                     "containers");
        assert_string_equal(json_string_value(json_object_get(json_array_get(cs, 0), "name")), "sidecar");
    }
    before = json_deep_copy(live);
    assert_int_equal(kl_patch_strategic(&live, again, "apps", "Deployment", &err), 0);
    assert_true(json_equal(live, before));
    /* An empty patch is a no-op too. */
    json_decref(again);
    again = J("{}");
    assert_int_equal(kl_patch_strategic(&live, again, "apps", "Deployment", &err), 0);
    assert_true(json_equal(live, before));
    json_decref(before);
    json_decref(again);
    json_decref(patch);
    json_decref(live);
}

/* Removing a container in the manifest: kubectl sends {"$patch":"delete"} for it. */
static void test_kubectl_apply_delete_element(void **state)
{
    json_t *live = J("{'spec':{'containers':[{'name':'a','image':'1'},{'name':'b','image':'2'}]}}");
    json_t *patch = J("{'spec':{'$setElementOrder/containers':[{'name':'b'}],'containers':[{'$patch':'delete','name':'a'}]}}");
    char *err = NULL;
    (void)state;
    assert_int_equal(kl_patch_strategic(&live, patch, "", "Pod", &err), 0);
    assert_json_eq(live, "{'spec':{'containers':[{'name':'b','image':'2'}]}}");
    json_decref(patch);
    json_decref(live);
}

static void test_supported(void **state)
{
    (void)state;
    assert_true(kl_patch_strategic_supported("", "Pod"));
    assert_true(kl_patch_strategic_supported("apps", "Deployment"));
    assert_true(kl_patch_strategic_supported("policy", "PodDisruptionBudget"));
    assert_true(kl_patch_strategic_supported("rbac.authorization.k8s.io", "ClusterRole"));
    assert_false(kl_patch_strategic_supported("commissaire.io", "Host"));
    assert_false(kl_patch_strategic_supported("", "Deployment"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_rfc7386),
        cmocka_unit_test(test_json_rfc6902),
        cmocka_unit_test(test_json_messages),
        cmocka_unit_test(test_strategic),
        cmocka_unit_test(test_strategic_merge_key_message),
        cmocka_unit_test(test_kubectl_apply_shape),
        cmocka_unit_test(test_kubectl_apply_delete_element),
        cmocka_unit_test(test_supported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
