/* Unit tests of kl_table: the CRD Table (columns, cells by type, human-readable ages,
 * includeObject) and the printer-column JSONPath subset. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_time.h"
#include "kl_table.h"

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

static const char *COLS =
    "[{'name':'Cluster','type':'string','description':'Cluster the operation acts on.','jsonPath':'.spec.cluster'},"
    "{'name':'Hosts','type':'string','jsonPath':'.spec.hosts','priority':1},"
    "{'name':'Done','type':'integer','jsonPath':'.status.succeeded'},"
    "{'name':'Ratio','type':'number','jsonPath':'.status.ratio'},"
    "{'name':'Atomic','type':'boolean','jsonPath':'.status.atomic'},"
    "{'name':'Age','type':'date','jsonPath':'.metadata.creationTimestamp'}]";

static void test_table(void **state)
{
    json_t *cols = J(COLS);
    json_t *o1 = J("{'apiVersion':'commissaire.io/v1alpha1','kind':'Operation','metadata':{'name':'op1',"
                   "'namespace':'ns','creationTimestamp':'2026-01-01T00:00:00Z','uid':'u1'},"
                   "'spec':{'cluster':'c1','hosts':['a','b']},'status':{'succeeded':3.0,'ratio':1,'atomic':true}}");
    json_t *o2 = J("{'metadata':{'name':'op2','creationTimestamp':'garbage'},'spec':{'cluster':5},"
                   "'status':{'succeeded':'x'}}");
    json_t *objs[] = {o1, o2};
    int64_t now;
    json_t *t;
    (void)state;

    assert_int_equal(cm_time_parse_rfc3339("2026-01-01T00:05:10Z", &now), 0);
    t = kl_table_build_at(cols, objs, 2, NULL, "42", "tok", now);
    assert_non_null(t);
    assert_string_equal(json_string_value(json_object_get(t, "kind")), "Table");
    assert_string_equal(json_string_value(json_object_get(t, "apiVersion")), "meta.k8s.io/v1");
    assert_json_eq(json_object_get(t, "metadata"), "{'resourceVersion':'42','continue':'tok'}");
    json_t *cd = json_object_get(t, "columnDefinitions");
    assert_int_equal(json_array_size(cd), 7);
    json_t *name = json_array_get(cd, 0);
    assert_string_equal(json_string_value(json_object_get(name, "name")), "Name");
    assert_string_equal(json_string_value(json_object_get(name, "format")), "name");
    assert_json_eq(json_array_get(cd, 1), "{'name':'Cluster','type':'string','format':'','description':'Cluster the "
                                          "operation acts on.','priority':0}");
    assert_json_eq(json_array_get(cd, 2), "{'name':'Hosts','type':'string','format':'','description':'Custom resource "
                                          "definition column (in JSONPath format): .spec.hosts','priority':1}");
    json_t *rows = json_object_get(t, "rows");
    assert_int_equal(json_array_size(rows), 2);
    /* strings as they are, lists as JSON, integer from 3.0, number from 1, boolean, age */
    assert_json_eq(json_object_get(json_array_get(rows, 0), "cells"), "['op1','c1','[\\'a\\',\\'b\\']',3,1.0,true,'5m10s']");
    /* a string column prints a number; wrong kinds are null; an unparsable date is <invalid> */
    assert_json_eq(json_object_get(json_array_get(rows, 1), "cells"), "['op2','5',null,null,null,null,'<invalid>']");
    /* default includeObject is Metadata: a PartialObjectMetadata */
    assert_json_eq(json_object_get(json_array_get(rows, 0), "object"),
                   "{'kind':'PartialObjectMetadata','apiVersion':'meta.k8s.io/v1','metadata':{'name':'op1','namespace':'ns',"
                   "'creationTimestamp':'2026-01-01T00:00:00Z','uid':'u1'}}");
    json_decref(t);

    t = kl_table_build_at(cols, objs, 1, "None", NULL, NULL, now);
    assert_null(json_object_get(json_array_get(json_object_get(t, "rows"), 0), "object"));
    assert_int_equal(json_object_size(json_object_get(t, "metadata")), 0);
    json_decref(t);
    t = kl_table_build_at(cols, objs, 1, "Object", NULL, NULL, now);
    assert_true(json_equal(json_object_get(json_array_get(json_object_get(t, "rows"), 0), "object"), o1));
    json_decref(t);

    json_decref(cols);
    json_decref(o1);
    json_decref(o2);
}

/* A CRD version without printer columns: Name and Age, as the real server serves. */
static void test_default_columns(void **state)
{
    json_t *o = J("{'metadata':{'name':'n','creationTimestamp':'2026-01-01T00:00:00Z'}}");
    json_t *objs[] = {o};
    int64_t now;
    json_t *t;
    (void)state;

    assert_int_equal(cm_time_parse_rfc3339("2026-01-03T05:00:00Z", &now), 0);
    t = kl_table_build_at(NULL, objs, 1, "None", NULL, NULL, now);
    json_t *cd = json_object_get(t, "columnDefinitions");
    assert_int_equal(json_array_size(cd), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cd, 1), "name")), "Age");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cd, 1), "type")), "date");
    assert_json_eq(json_object_get(json_array_get(json_object_get(t, "rows"), 0), "cells"), "['n','2d5h']");
    json_decref(t);
    json_decref(o);
}

/* duration.HumanDuration boundaries, observed through a date column. */
static void test_ages(void **state)
{
    static const struct {
        int64_t secs;
        const char *want;
    } cases[] = {
        {-5, "<invalid>"}, {-1, "0s"}, {0, "0s"}, {119, "119s"}, {120, "2m"}, {130, "2m10s"}, {600, "10m"},
        {179 * 60, "179m"}, {3 * 3600, "3h"}, {3 * 3600 + 60, "3h1m"}, {8 * 3600, "8h"}, {47 * 3600, "47h"},
        {48 * 3600, "2d"}, {50 * 3600, "2d2h"}, {8 * 86400, "8d"}, {730 * 86400, "2y"}, {731 * 86400, "2y1d"},
        {8 * 365 * 86400, "8y"},
    };
    json_t *cols = J("[{'name':'Age','type':'date','jsonPath':'.metadata.creationTimestamp'}]");
    json_t *o = J("{'metadata':{'name':'n','creationTimestamp':'2020-01-01T00:00:00Z'}}");
    json_t *objs[] = {o};
    int64_t base;
    (void)state;

    assert_int_equal(cm_time_parse_rfc3339("2020-01-01T00:00:00Z", &base), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *t = kl_table_build_at(cols, objs, 1, "None", NULL, NULL, base + cases[i].secs * 1000);
        const char *got = json_string_value(json_array_get(json_object_get(json_array_get(json_object_get(t, "rows"), 0), "cells"), 1));
        if (strcmp(got, cases[i].want))
            fail_msg("%lld s: got %s want %s", (long long)cases[i].secs, got, cases[i].want);
        json_decref(t);
    }
    json_decref(cols);
    json_decref(o);
}

static void test_jsonpath(void **state)
{
    json_t *o = J("{'metadata':{'labels':{'commissaire.io/cluster':'c1'}},'spec':{'hosts':['a','b','c']},"
                  "'status':{'conditions':[{'type':'Reachable','status':'True'},{'type':'Ready','status':'False'}],"
                  "'n':[{'v':1},{'v':2}]}}");
    static const struct {
        const char *path, *want; /* want NULL: no result */
    } cases[] = {
        {".metadata.labels['commissaire.io/cluster']", "'c1'"},
        {".metadata.labels[\"commissaire.io/cluster\"]", "'c1'"},
        {".metadata.labels.commissaire\\.io/cluster", "'c1'"},
        {"{.spec.hosts[0]}", "'a'"},
        {".spec.hosts[-1]", "'c'"},
        {".spec.hosts[5]", NULL},
        {".status.conditions[?(@.type==\"Ready\")].status", "'False'"},
        {".status.n[?(@.v==2)].v", "2"},
        {".spec.missing", NULL},
        {".spec.hosts.x", NULL},
        {"spec", NULL},
        {".spec.hosts[", NULL},
        {".spec", "{'hosts':['a','b','c']}"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *v = kl_jsonpath_eval(o, cases[i].path);
        if (!cases[i].want) {
            if (v)
                fail_msg("%s: expected no result", cases[i].path);
            continue;
        }
        if (!v)
            fail_msg("%s: no result", cases[i].path);
        assert_json_eq(v, cases[i].want);
        json_decref(v);
    }
    json_decref(o);
}

static void test_jsonpath_check(void **state)
{
    char *err = NULL;
    (void)state;
    assert_int_equal(kl_jsonpath_check(".status.phase", &err), 0);
    assert_int_equal(kl_jsonpath_check("", &err), -EINVAL);
    assert_string_equal(err, "must not be empty");
    free(err);
    err = NULL;
    assert_int_equal(kl_jsonpath_check("status.phase", &err), -EINVAL);
    assert_string_equal(err, "must be a simple json path starting with .");
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_default_columns),
        cmocka_unit_test(test_ages),
        cmocka_unit_test(test_jsonpath),
        cmocka_unit_test(test_jsonpath_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
