/* Unit tests of kl_selector: label selector syntax and matching, the real parser's error texts,
 * metav1.LabelSelector conversion, and field selectors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kl_selector.h"

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

struct mcase {
    const char *sel, *labels; /* labels NULL: no labels at all */
    int want;
};

static const struct mcase match_cases[] = {
    {"", "{'a':'b'}", 1},
    {"", NULL, 1},
    {"a=b", "{'a':'b'}", 1},
    {"a=b", "{'a':'c'}", 0},
    {"a=b", NULL, 0},
    {"a==b", "{'a':'b'}", 1},
    {"a!=b", "{'a':'c'}", 1},
    {"a!=b", "{}", 1},
    {"a!=b", "{'a':'b'}", 0},
    {"a in (b,c)", "{'a':'c'}", 1},
    {"a in (b,c)", "{'a':'d'}", 0},
    {"a in (b,c)", "{}", 0},
    {"a notin (b,c)", "{}", 1},
    {"a notin (b,c)", "{'a':'b'}", 0},
    {"a notin (b,c)", "{'a':'x'}", 1},
    {"a", "{'a':''}", 1},
    {"a", "{}", 0},
    {"!a", "{}", 1},
    {"!a", "{'a':'x'}", 0},
    {"a,b=c", "{'a':'1','b':'c'}", 1},
    {"a,b=c", "{'b':'c'}", 0},
    {"x>5", "{'x':'6'}", 1},
    {"x>5", "{'x':'5'}", 0},
    {"x>5", "{'x':'abc'}", 0},
    {"x<5", "{'x':'-1'}", 1},
    {" a = b , c in ( d , e ) ", "{'a':'b','c':'e'}", 1},
    {"a in ()", "{'a':''}", 1},
    {"a=", "{'a':''}", 1},
    {"a=", "{'a':'x'}", 0},
    {"commissaire.io/cluster=c1", "{'commissaire.io/cluster':'c1'}", 1},
    {"app.kubernetes.io/name in (commissaire),!skip", "{'app.kubernetes.io/name':'commissaire'}", 1},
    /* in/notin are plain identifiers as keys and values */
    {"in=notin", "{'in':'notin'}", 1},
};

static void test_match(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
        struct kl_labelsel *s = NULL;
        char *err = NULL;
        json_t *l = match_cases[i].labels ? J(match_cases[i].labels) : NULL;
        if (kl_labelsel_parse(match_cases[i].sel, &s, &err) != 0)
            fail_msg("case %zu '%s': %s", i, match_cases[i].sel, err);
        if (kl_labelsel_match(s, l) != match_cases[i].want)
            fail_msg("case %zu '%s': match != %d", i, match_cases[i].sel, match_cases[i].want);
        kl_labelsel_free(s);
        json_decref(l);
    }
}

struct ecase {
    const char *sel, *err;
};

static const struct ecase err_cases[] = {
    {"a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"},
    {"=b", "found '=', expected: !, identifier, or 'end of string'"},
    {"a,", "found '', expected: identifier after ','"},
    {"a in (b", "unable to parse requirement: found '', expected: ',' or ')'"},
    {"a in b", "unable to parse requirement: found 'b' expected: '('"},
    {"a=b c", "found 'c', expected: ',' or 'end of string'"},
    {"a=b=c", "found '=', expected: ',' or 'end of string'"},
    {"!a=b", "found '=', expected: ',' or 'end of string'"},
    {"a=(b)", "unable to parse requirement: found '(', expected: identifier"},
    {"a=-x",
     "unable to parse requirement: values[0][a]: Invalid value: \"-x\": a valid label must be an empty string or "
     "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
     "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
     "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"},
    {"-a=b",
     "unable to parse requirement: <nil>: Invalid value: \"-a\": name part must consist of alphanumeric characters, "
     "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
     "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"},
    {"Bad_Prefix/a=b",
     "unable to parse requirement: <nil>: Invalid value: \"Bad_Prefix/a\": prefix part a lowercase RFC 1123 "
     "subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an "
     "alphanumeric character (e.g. 'example.com', regex used for validation is "
     "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"},
    {"x>a", "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"},
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        struct kl_labelsel *s = NULL;
        char *err = NULL;
        int r = kl_labelsel_parse(err_cases[i].sel, &s, &err);
        if (r != -EINVAL)
            fail_msg("case %zu '%s': parsed (r=%d)", i, err_cases[i].sel, r);
        assert_null(s);
        if (!err || strcmp(err, err_cases[i].err))
            fail_msg("case %zu '%s':\n got  %s\n want %s", i, err_cases[i].sel, err ? err : "(null)", err_cases[i].err);
        free(err);
    }
}

static void test_from_object(void **state)
{
    struct kl_labelsel *s = NULL;
    char *err = NULL;
    json_t *sel, *l;
    (void)state;

    sel = J("{'matchLabels':{'app':'web'},'matchExpressions':[{'key':'tier','operator':'In','values':['a','b']},"
            "{'key':'canary','operator':'DoesNotExist'},{'key':'zone','operator':'Exists'},"
            "{'key':'env','operator':'NotIn','values':['prod']}]}");
    assert_int_equal(kl_labelsel_from_object(sel, &s, &err), 0);
    l = J("{'app':'web','tier':'b','zone':'z1','env':'dev'}");
    assert_int_equal(kl_labelsel_match(s, l), 1);
    json_decref(l);
    l = J("{'app':'web','tier':'b','zone':'z1','canary':'1'}");
    assert_int_equal(kl_labelsel_match(s, l), 0);
    json_decref(l);
    kl_labelsel_free(s);
    json_decref(sel);

    /* {} selects everything, a missing selector nothing (LabelSelectorAsSelector) */
    sel = J("{}");
    assert_int_equal(kl_labelsel_from_object(sel, &s, &err), 0);
    assert_true(kl_labelsel_empty(s));
    assert_int_equal(kl_labelsel_match(s, NULL), 1);
    kl_labelsel_free(s);
    json_decref(sel);
    assert_int_equal(kl_labelsel_from_object(NULL, &s, &err), 0);
    assert_false(kl_labelsel_empty(s));
    l = J("{'a':'b'}");
    assert_int_equal(kl_labelsel_match(s, l), 0);
    json_decref(l);
    kl_labelsel_free(s);

    sel = J("{'matchExpressions':[{'key':'a','operator':'Bad'}]}");
    assert_int_equal(kl_labelsel_from_object(sel, &s, &err), -EINVAL);
    assert_string_equal(err, "\"Bad\" is not a valid label selector operator");
    free(err);
    err = NULL;
    json_decref(sel);
    sel = J("{'matchExpressions':[{'key':'a','operator':'In','values':[]}]}");
    assert_int_equal(kl_labelsel_from_object(sel, &s, &err), -EINVAL);
    assert_string_equal(err, "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty");
    free(err);
    err = NULL;
    json_decref(sel);
    sel = J("{'matchExpressions':[{'key':'a','operator':'Exists','values':['x']}]}");
    assert_int_equal(kl_labelsel_from_object(sel, &s, &err), -EINVAL);
    assert_string_equal(err, "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist");
    free(err);
    err = NULL;
    json_decref(sel);
    /* several errors are aggregated in brackets */
    sel = J("{'matchLabels':{'-k':'-v'}}");
    assert_int_equal(kl_labelsel_from_object(sel, &s, &err), -EINVAL);
    assert_true(err[0] == '[' && strstr(err, "key: Invalid value: \"-k\"") && strstr(err, "values[0][-k]: Invalid value: \"-v\""));
    free(err);
    json_decref(sel);
}

static void test_field(void **state)
{
    struct kl_fieldsel *s = NULL;
    char *err = NULL;
    json_t *pod = J("{'metadata':{'name':'a,b','namespace':'ns'},'spec':{'nodeName':'n1','replicas':3},"
                    "'status':{'phase':'Running'},'type':'Warning'}");
    (void)state;

    assert_int_equal(kl_fieldsel_parse("metadata.name=a\\,b,spec.nodeName!=n2,status.phase==Running", &s, &err), 0);
    assert_int_equal(kl_fieldsel_count(s), 3);
    /* sorted like the real parser */
    assert_string_equal(kl_fieldsel_field(s, 0), "metadata.name");
    assert_string_equal(kl_fieldsel_value(s, 0), "a,b");
    assert_int_equal(kl_fieldsel_negated(s, 1), 1);
    assert_int_equal(kl_fieldsel_match(s, pod), 1);
    kl_fieldsel_free(s);

    assert_int_equal(kl_fieldsel_parse("spec.nodeName=n2", &s, &err), 0);
    assert_int_equal(kl_fieldsel_match(s, pod), 0);
    kl_fieldsel_free(s);
    /* a missing field is "" and a number prints as Go prints it */
    assert_int_equal(kl_fieldsel_parse("spec.missing=,spec.replicas=3,type=Warning", &s, &err), 0);
    assert_int_equal(kl_fieldsel_match(s, pod), 1);
    kl_fieldsel_free(s);
    assert_int_equal(kl_fieldsel_parse("", &s, &err), 0);
    assert_int_equal(kl_fieldsel_count(s), 0);
    assert_int_equal(kl_fieldsel_match(s, pod), 1);
    kl_fieldsel_free(s);

    assert_int_equal(kl_fieldsel_parse("metadata.name", &s, &err), -EINVAL);
    assert_string_equal(err, "invalid selector: 'metadata.name'; can't understand 'metadata.name'");
    free(err);
    err = NULL;
    assert_int_equal(kl_fieldsel_parse("a=b=c", &s, &err), -EINVAL);
    assert_string_equal(err, "invalid field selector: unescaped character in value: 61");
    free(err);
    err = NULL;
    assert_int_equal(kl_fieldsel_parse("a=b\\x", &s, &err), -EINVAL);
    assert_string_equal(err, "invalid field selector: invalid escape sequence: \\x");
    free(err);
    json_decref(pod);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_from_object),
        cmocka_unit_test(test_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
