/* Unit tests of kl_schema: pruning, defaulting, validation wording (as the real API server
 * words it), every-violation reporting, list types, formats, value validations, and the
 * structural check of CRD schemas. JSON is written with single quotes for readability. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kl_schema.h"

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

static char *dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static void assert_json_eq(const json_t *got, const char *want_s)
{
    json_t *want = J(want_s);
    if (!json_equal((json_t *)got, want)) {
        char *g = dump(got), *w = dump(want);
        fail_msg("got  %s\nwant %s", g, w);
    }
    json_decref(want);
}

/* A Host-like schema exercising every keyword. */
static const char *SCHEMA =
    "{'type':'object','required':['spec'],'properties':{"
    "'apiVersion':{'type':'string'},'kind':{'type':'string'},'metadata':{'type':'object'},"
    "'spec':{'type':'object','required':['address'],'properties':{"
    "  'address':{'type':'string','pattern':'^[a-z0-9.:-]+$','maxLength':253},"
    "  'port':{'type':'integer','minimum':1,'maximum':65535,'default':22},"
    "  'remoteUser':{'type':'string','default':'root','minLength':1},"
    "  'type':{'type':'string','enum':['restart','upgrade','deploy']},"
    "  'ratio':{'type':'number','maximum':1,'exclusiveMaximum':true,'multipleOf':0.25},"
    "  'count':{'type':'integer','multipleOf':5},"
    "  'tags':{'type':'array','items':{'type':'string'},'maxItems':2,'minItems':1},"
    "  'labels':{'type':'object','additionalProperties':{'type':'string'},'maxProperties':2},"
    "  'maxUnavailable':{'x-kubernetes-int-or-string':true,'anyOf':[{'type':'integer'},{'type':'string'}],"
    "                    'minimum':1,'pattern':'^(100|[1-9][0-9]?)%$','default':1},"
    "  'options':{'type':'object','x-kubernetes-preserve-unknown-fields':true,"
    "             'properties':{'known':{'type':'object','properties':{'a':{'type':'string'}}}}},"
    "  'nested':{'type':'object','default':{},'properties':{'a':{'type':'string','default':'x'}}},"
    "  'items':{'type':'array','x-kubernetes-list-type':'map','x-kubernetes-list-map-keys':['name'],"
    "           'items':{'type':'object','required':['name'],'properties':{'name':{'type':'string'},"
    "                    'v':{'type':'integer','default':3}}}},"
    "  'set':{'type':'array','x-kubernetes-list-type':'set','items':{'type':'string'}},"
    "  'nullableStr':{'type':'string','nullable':true},"
    "  'when':{'type':'string','format':'date-time'},"
    "  'size':{'type':'integer','format':'int64'},"
    "  'hostKey':{'type':'string','pattern':'^SHA256:[A-Za-z0-9+/]{43}$'},"
    "  'digits':{'type':'string','pattern':'^\\\\d{2}-\\\\w+\\\\s?$'},"
    "  'embedded':{'type':'object','x-kubernetes-embedded-resource':true,'x-kubernetes-preserve-unknown-fields':true},"
    "  'cel':{'type':'string','x-kubernetes-validations':[{'rule':'self == oldSelf'}]}"
    "}},"
    "'status':{'type':'object','properties':{'phase':{'type':'string'}}}}}";

static struct kl_schema *compile(const char *s)
{
    json_t *j = J(s);
    struct kl_schema *ks = NULL;
    char *err = NULL;
    int r = kl_schema_new(j, &ks, &err);
    if (r != 0)
        fail_msg("compile failed: %s", err ? err : "?");
    json_decref(j);
    return ks;
}

/* Validates obj_s and returns the causes (new reference). */
static json_t *causes_of(struct kl_schema *ks, const char *obj_s, int *ret)
{
    json_t *o = J(obj_s), *c = json_array();
    *ret = kl_schema_validate(ks, o, c);
    json_decref(o);
    return c;
}

/* Asserts a cause with this reason/message/field is present. */
static void assert_cause(const json_t *causes, const char *reason, const char *message, const char *field)
{
    for (size_t i = 0; i < json_array_size(causes); i++) {
        json_t *c = json_array_get(causes, i);
        if (!strcmp(json_string_value(json_object_get(c, "reason")), reason) &&
            !strcmp(json_string_value(json_object_get(c, "message")), message) &&
            !strcmp(json_string_value(json_object_get(c, "field")), field))
            return;
    }
    char *d = dump(causes);
    fail_msg("missing cause %s / %s / %s in %s", reason, message, field, d);
}

static void test_prune(void **state)
{
    struct kl_schema *ks = compile(SCHEMA);
    json_t *o = J("{'apiVersion':'commissaire.io/v1alpha1','kind':'Host','metadata':{'name':'h','labels':{'a':'b'}},"
                  "'junk':1,'spec':{'address':'a','foo':'bar','options':{'anything':{'x':1},'known':{'a':'s','b':2}},"
                  "'items':[{'name':'n','extra':true}],'labels':{'k':'v'},'embedded':{'apiVersion':'v1','kind':'Pod',"
                  "'metadata':{'name':'p'},'spec':{'x':1}}},'status':{'phase':'active','other':1}}");
    json_t *unknown = json_array();
    (void)state;

    kl_schema_prune_report(ks, o, unknown);
    assert_json_eq(o, "{'apiVersion':'commissaire.io/v1alpha1','kind':'Host','metadata':{'name':'h','labels':{'a':'b'}},"
                      "'spec':{'address':'a','options':{'anything':{'x':1},'known':{'a':'s'}},"
                      "'items':[{'name':'n'}],'labels':{'k':'v'},'embedded':{'apiVersion':'v1','kind':'Pod',"
                      "'metadata':{'name':'p'},'spec':{'x':1}}},'status':{'phase':'active'}}");
    assert_json_eq(unknown, "['junk','spec.foo','spec.options.known.b','spec.items[0].extra','status.other']");
    json_decref(unknown);
    json_decref(o);

    kl_schema_free(ks);

    /* apiVersion/kind/metadata are kept at the root without being specified, unless of the
     * wrong JSON type (then pruned, without a report); a schema that specifies them keeps them
     * as any other property (validation then complains). */
    ks = compile("{'type':'object','properties':{'spec':{'type':'object'}}}");
    o = J("{'apiVersion':1,'kind':'Host','metadata':'x','spec':{'a':1}}");
    unknown = json_array();
    kl_schema_prune_report(ks, o, unknown);
    assert_json_eq(o, "{'kind':'Host','spec':{}}");
    assert_json_eq(unknown, "['spec.a']");
    json_decref(unknown);
    json_decref(o);
    kl_schema_free(ks);
}

static void test_default(void **state)
{
    struct kl_schema *ks = compile(SCHEMA);
    json_t *o = J("{'spec':{'address':'a','items':[{'name':'n'},{'name':'m','v':5}],'type':null,'port':null,"
                  "'nullableStr':null}}");
    (void)state;

    kl_schema_default(ks, o);
    /* defaults applied (recursively, inside array items and into a defaulted {}), a null with a
     * default replaced, a non-nullable null without default dropped, a nullable null kept */
    assert_json_eq(o, "{'spec':{'address':'a','port':22,'remoteUser':'root','maxUnavailable':1,'nested':{'a':'x'},"
                      "'items':[{'name':'n','v':3},{'name':'m','v':5}],'nullableStr':null}}");
    json_decref(o);
    kl_schema_free(ks);
}

static void test_valid(void **state)
{
    struct kl_schema *ks = compile(SCHEMA);
    int r;
    json_t *c = causes_of(ks,
                          "{'apiVersion':'x/v1','kind':'Host','metadata':{'name':'n'},'spec':{'address':'10.0.0.1',"
                          "'port':22,'type':'restart','ratio':0.5,'count':10,'tags':['a'],'labels':{'a':'b'},"
                          "'maxUnavailable':'50%','items':[{'name':'a'},{'name':'b'}],'set':['x','y'],'nullableStr':null,"
                          "'when':'2024-01-02T03:04:05.123+02:00','size':5,"
                          "'hostKey':'SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456','digits':'12-ab_c ',"
                          "'embedded':{'apiVersion':'v1','kind':'ConfigMap'},'cel':'anything'}}",
                          &r);
    (void)state;
    if (r != 0) {
        char *d = dump(c);
        fail_msg("unexpected causes %s", d);
    }
    assert_int_equal(json_array_size(c), 0);
    json_decref(c);
    kl_schema_free(ks);
}

/* The examples of the issue, all in one object: every violation is reported, worded like the
 * real server. */
static void test_every_violation_wording(void **state)
{
    struct kl_schema *ks = compile(SCHEMA);
    char longaddr[300];
    char obj[600];
    int r;
    (void)state;

    memset(longaddr, 'a', 254);
    longaddr[254] = 0;
    snprintf(obj, sizeof(obj), "{'spec':{'port':70000,'type':'reboot'},'status':{'phase':5}}");
    json_t *c = causes_of(ks, obj, &r);
    assert_int_equal(r, -EINVAL);
    assert_cause(c, "FieldValueRequired", "Required value", "spec.address");
    assert_cause(c, "FieldValueInvalid", "Invalid value: 70000: spec.port in body should be less than or equal to 65535",
                 "spec.port");
    assert_cause(c, "FieldValueNotSupported",
                 "Unsupported value: \"reboot\": supported values: \"restart\", \"upgrade\", \"deploy\"", "spec.type");
    assert_cause(c, "FieldValueTypeInvalid", "Invalid value: \"integer\": status.phase in body must be of type string: \"integer\"",
                 "status.phase");
    assert_int_equal(json_array_size(c), 4);
    json_decref(c);

    c = causes_of(ks, "{'spec':{'address':'bad host','port':'string'}}", &r);
    assert_cause(c, "FieldValueInvalid", "Invalid value: \"bad host\": spec.address in body should match '^[a-z0-9.:-]+$'",
                 "spec.address");
    assert_cause(c, "FieldValueTypeInvalid", "Invalid value: \"string\": spec.port in body must be of type integer: \"string\"",
                 "spec.port");
    assert_int_equal(json_array_size(c), 2);
    json_decref(c);

    snprintf(obj, sizeof(obj), "{'spec':{'address':'%s'}}", longaddr);
    c = causes_of(ks, obj, &r);
    /* too long and not matching: the real validator stops at the first string check */
    assert_cause(c, "FieldValueTooLong", "Too long: may not be more than 253 bytes", "spec.address");
    assert_int_equal(json_array_size(c), 1);
    json_decref(c);

    c = causes_of(ks, "{}", &r);
    assert_cause(c, "FieldValueRequired", "Required value", "spec");
    json_decref(c);
    kl_schema_free(ks);
}

static void test_numbers_arrays_objects(void **state)
{
    struct kl_schema *ks = compile(SCHEMA);
    int r;
    json_t *c;
    (void)state;

    c = causes_of(ks, "{'spec':{'address':'a','ratio':1.0,'count':7,'port':0}}", &r);
    assert_cause(c, "FieldValueInvalid", "Invalid value: 1: spec.ratio in body should be less than 1", "spec.ratio");
    assert_cause(c, "FieldValueInvalid", "Invalid value: 7: spec.count in body should be a multiple of 5", "spec.count");
    assert_cause(c, "FieldValueInvalid", "Invalid value: 0: spec.port in body should be greater than or equal to 1",
                 "spec.port");
    json_decref(c);
    c = causes_of(ks, "{'spec':{'address':'a','ratio':0.3}}", &r);
    assert_cause(c, "FieldValueInvalid", "Invalid value: 0.3: spec.ratio in body should be a multiple of 0.25", "spec.ratio");
    json_decref(c);
    /* an integral real is an integer */
    c = causes_of(ks, "{'spec':{'address':'a','port':22.0}}", &r);
    assert_int_equal(r, 0);
    json_decref(c);
    c = causes_of(ks, "{'spec':{'address':'a','port':22.5}}", &r);
    assert_cause(c, "FieldValueTypeInvalid", "Invalid value: \"number\": spec.port in body must be of type integer: \"number\"",
                 "spec.port");
    json_decref(c);

    c = causes_of(ks, "{'spec':{'address':'a','tags':['a','b','c']}}", &r);
    assert_cause(c, "FieldValueTooMany", "Too many: 3: must have at most 2 items", "spec.tags");
    json_decref(c);
    c = causes_of(ks, "{'spec':{'address':'a','tags':[]}}", &r);
    assert_cause(c, "FieldValueInvalid", "Invalid value: 0: spec.tags in body should have at least 1 items", "spec.tags");
    json_decref(c);
    c = causes_of(ks, "{'spec':{'address':'a','tags':[1]}}", &r);
    assert_cause(c, "FieldValueTypeInvalid", "Invalid value: \"integer\": spec.tags[0] in body must be of type string: \"integer\"",
                 "spec.tags[0]");
    json_decref(c);
    c = causes_of(ks, "{'spec':{'address':'a','labels':{'a':'1','b':'2','c':'3'}}}", &r);
    assert_cause(c, "FieldValueTooMany", "Too many: 3: must have at most 2 items", "spec.labels");
    json_decref(c);
    c = causes_of(ks, "{'spec':{'address':'a','labels':{'a':1}}}", &r);
    assert_cause(c, "FieldValueTypeInvalid", "Invalid value: \"integer\": spec.labels.a in body must be of type string: \"integer\"",
                 "spec.labels.a");
    json_decref(c);
    c = causes_of(ks, "{'spec':{'address':'a','remoteUser':''}}", &r);
    assert_cause(c, "FieldValueInvalid", "Invalid value: \"\": spec.remoteUser in body should be at least 1 chars long",
                 "spec.remoteUser");
    json_decref(c);
    c = causes_of(ks, "{'spec':{'address':'a','port':null}}", &r);
    assert_cause(c, "FieldValueTypeInvalid", "Invalid value: \"null\": spec.port in body must be of type integer: \"null\"",
                 "spec.port");
    json_decref(c);
    c = causes_of(ks, "{'spec':'x'}", &r);
    assert_cause(c, "FieldValueTypeInvalid", "Invalid value: \"string\": spec in body must be of type object: \"string\"", "spec");
    json_decref(c);
    kl_schema_free(ks);
}

/* Values in messages are printed as Go prints them: %q for strings (non-printable runes
 * escaped), %v for floats (exponent form from 1e+06), JSON for objects. */
static void test_go_printing(void **state)
{
    struct kl_schema *ks = compile("{'type':'object','properties':{'e':{'type':'string','enum':['a']},"
                                   "'n':{'type':'number','maximum':10},'o':{'type':'string'},"
                                   "'i':{'type':'integer','enum':[1,2]}}}");
    int r;
    json_t *c;
    (void)state;

    c = causes_of(ks, "{'e':'\u00e9\\u00a0\\t\\u200b','n':1234567.5,'o':{'b':1,'a':[true,null]},'i':3}", &r);
    assert_cause(c, "FieldValueNotSupported", "Unsupported value: \"\u00e9\\u00a0\\t\\u200b\": supported values: \"a\"", "e");
    assert_cause(c, "FieldValueInvalid", "Invalid value: 1.2345675e+06: n in body should be less than or equal to 10", "n");
    assert_cause(c, "FieldValueTypeInvalid", "Invalid value: \"object\": o in body must be of type string: \"object\"", "o");
    assert_cause(c, "FieldValueNotSupported", "Unsupported value: 3: supported values: \"1\", \"2\"", "i");
    json_decref(c);
    kl_schema_free(ks);
}

static void test_int_or_string(void **state)
{
    struct kl_schema *ks = compile(SCHEMA);
    int r;
    json_t *c;
    (void)state;

    c = causes_of(ks, "{'spec':{'address':'a','maxUnavailable':3}}", &r);
    assert_int_equal(r, 0);
    json_decref(c);
    c = causes_of(ks, "{'spec':{'address':'a','maxUnavailable':'100%'}}", &r);
    assert_int_equal(r, 0);
    json_decref(c);
    c = causes_of(ks, "{'spec':{'address':'a','maxUnavailable':0}}", &r);
    assert_cause(c, "FieldValueInvalid", "Invalid value: 0: spec.maxUnavailable in body should be greater than or equal to 1",
                 "spec.maxUnavailable");
    assert_int_equal(json_array_size(c), 1);
    json_decref(c);
    c = causes_of(ks, "{'spec':{'address':'a','maxUnavailable':'0%'}}", &r);
    assert_cause(c, "FieldValueInvalid",
                 "Invalid value: \"0%\": spec.maxUnavailable in body should match '^(100|[1-9][0-9]?)%$'",
                 "spec.maxUnavailable");
    json_decref(c);
    c = causes_of(ks, "{'spec':{'address':'a','maxUnavailable':true}}", &r);
    assert_cause(c, "FieldValueTypeInvalid",
                 "Invalid value: \"boolean\": spec.maxUnavailable in body must be of type integer,string: \"boolean\"",
                 "spec.maxUnavailable");
    assert_cause(c, "FieldValueInvalid", "Invalid value: \"\": \"spec.maxUnavailable\" must validate at least one schema (anyOf)",
                 "<nil>");
    json_decref(c);
    kl_schema_free(ks);
}

static void test_list_types(void **state)
{
    struct kl_schema *ks = compile(SCHEMA);
    int r;
    json_t *c;
    (void)state;

    c = causes_of(ks, "{'spec':{'address':'a','items':[{'name':'a'},{'name':'b'},{'name':'a'},{'name':'a'}],"
                      "'set':['x','y','x','x']}}", &r);
    assert_int_equal(r, -EINVAL);
    assert_cause(c, "FieldValueDuplicate", "Duplicate value: {\"name\":\"a\"}", "spec.items[2]");
    assert_cause(c, "FieldValueDuplicate", "Duplicate value: \"x\"", "spec.set[2]");
    /* each duplicated value is reported once */
    assert_int_equal(json_array_size(c), 2);
    json_decref(c);
    c = causes_of(ks, "{'spec':{'address':'a','items':[{'v':1}]}}", &r);
    assert_cause(c, "FieldValueRequired", "Required value", "spec.items[0].name");
    json_decref(c);
    kl_schema_free(ks);
}

static void test_formats_and_patterns(void **state)
{
    struct kl_schema *ks = compile(SCHEMA);
    int r;
    json_t *c;
    (void)state;

    c = causes_of(ks, "{'spec':{'address':'a','when':'yesterday'}}", &r);
    assert_cause(c, "FieldValueTypeInvalid", "Invalid value: \"yesterday\": spec.when in body must be of type date-time: \"yesterday\"",
                 "spec.when");
    json_decref(c);
    c = causes_of(ks, "{'spec':{'address':'a','when':'2024-02-30T00:00:00Z'}}", &r);
    assert_int_equal(r, -EINVAL);
    json_decref(c);
    c = causes_of(ks, "{'spec':{'address':'a','hostKey':'SHA256:short'}}", &r);
    assert_cause(c, "FieldValueInvalid", "Invalid value: \"SHA256:short\": spec.hostKey in body should match '^SHA256:[A-Za-z0-9+/]{43}$'",
                 "spec.hostKey");
    json_decref(c);
    /* \d \w \s are translated */
    c = causes_of(ks, "{'spec':{'address':'a','digits':'1x-ab'}}", &r);
    assert_int_equal(r, -EINVAL);
    json_decref(c);
    /* formats the real server does not know (int64 here) are ignored */
    c = causes_of(ks, "{'spec':{'address':'a','size':99999999999}}", &r);
    assert_int_equal(r, 0);
    json_decref(c);
    kl_schema_free(ks);

    /* a few more formats */
    ks = compile("{'type':'object','properties':{'u':{'type':'string','format':'uuid'},'i':{'type':'string','format':'ipv4'},"
                 "'h':{'type':'string','format':'hostname'},'b':{'type':'string','format':'byte'},"
                 "'d':{'type':'string','format':'duration'},'c':{'type':'string','format':'cidr'},"
                 "'e':{'type':'string','format':'email'},'dt':{'type':'string','format':'date'}}}");
    c = causes_of(ks, "{'u':'123e4567-e89b-12d3-a456-426614174000','i':'10.1.2.3','h':'host.example.com',"
                      "'b':'aGVsbG8=','d':'5m','c':'10.0.0.0/8','e':'a@b.c','dt':'2024-02-29'}", &r);
    if (r != 0) {
        char *d = dump(c);
        fail_msg("unexpected %s", d);
    }
    json_decref(c);
    c = causes_of(ks, "{'u':'nope','i':'10.1.2','h':'-bad-','b':'abc','d':'five','c':'10.0.0.0/33','e':'nope','dt':'2023-02-29'}",
                  &r);
    assert_int_equal(json_array_size(c), 8);
    json_decref(c);
    kl_schema_free(ks);

    /* look-around cannot be translated: refused at compile time */
    json_t *bad = J("{'type':'string','pattern':'^(?!x)'}");
    struct kl_schema *none = NULL;
    char *err = NULL;
    assert_int_equal(kl_schema_new(bad, &none, &err), -EINVAL);
    assert_non_null(err);
    free(err);
    json_decref(bad);
}

/* Value validations as the Operation CRD uses them: "version required when type is deploy". */
static void test_value_validations(void **state)
{
    struct kl_schema *ks = compile(
        "{'type':'object','properties':{'spec':{'type':'object','required':['type'],"
        "'anyOf':[{'required':['version']},{'properties':{'type':{'not':{'enum':['deploy']}}}}],"
        "'properties':{'type':{'type':'string'},'version':{'type':'string'},"
        "'n':{'type':'integer','oneOf':[{'minimum':10},{'maximum':5}],'allOf':[{'minimum':0},{'maximum':100}]}}}}}");
    int r;
    json_t *c;
    (void)state;

    c = causes_of(ks, "{'spec':{'type':'restart'}}", &r);
    assert_int_equal(r, 0);
    json_decref(c);
    c = causes_of(ks, "{'spec':{'type':'deploy','version':'1'}}", &r);
    assert_int_equal(r, 0);
    json_decref(c);
    c = causes_of(ks, "{'spec':{'type':'deploy'}}", &r);
    assert_cause(c, "FieldValueInvalid", "Invalid value: \"\": \"spec\" must validate at least one schema (anyOf)", "<nil>");
    assert_cause(c, "FieldValueRequired", "Required value", "spec.version");
    json_decref(c);
    c = causes_of(ks, "{'spec':{'type':'a','n':7}}", &r);
    assert_cause(c, "FieldValueInvalid",
                 "Invalid value: \"\": \"spec.n\" must validate one and only one schema (oneOf). Found none valid", "<nil>");
    json_decref(c);
    c = causes_of(ks, "{'spec':{'type':'a','n':200}}", &r);
    assert_cause(c, "FieldValueInvalid", "Invalid value: 200: spec.n in body should be less than or equal to 100", "spec.n");
    assert_cause(c, "FieldValueInvalid", "Invalid value: \"\": \"spec.n\" must validate all the schemas (allOf)", "<nil>");
    json_decref(c);
    kl_schema_free(ks);
}

static void test_embedded(void **state)
{
    struct kl_schema *ks = compile(SCHEMA);
    int r;
    json_t *c;
    (void)state;
    c = causes_of(ks, "{'spec':{'address':'a','embedded':{'apiVersion':'v1'}}}", &r);
    assert_cause(c, "FieldValueRequired", "Required value: must not be empty", "spec.embedded.kind");
    json_decref(c);
    kl_schema_free(ks);
}

static void test_structural(void **state)
{
    json_t *s = J(SCHEMA), *c = json_array();
    (void)state;

    /* The test schema is structural except uniqueItems/etc.: it passes. */
    if (kl_schema_check_structural(s, c) != 0) {
        char *d = dump(c);
        fail_msg("unexpected %s", d);
    }
    json_decref(s);
    json_decref(c);

    s = J("{'type':'object','properties':{'spec':{'type':'object','properties':{'x':{'description':'no type'},"
          "'r':{'$ref':'#/definitions/x','type':'string'},'u':{'type':'array','items':{'type':'string'},'uniqueItems':true},"
          "'m':{'type':'object','properties':{'a':{'type':'string'}},'additionalProperties':{'type':'string'}},"
          "'a':{'type':'string','anyOf':[{'type':'string'}]},'d':{'type':'integer','default':'x'}}},"
          "'metadata':{'type':'object','properties':{'labels':{'type':'object'}}}}}");
    c = json_array();
    assert_int_equal(kl_schema_check_structural_at(s, "spec.versions[0].schema.openAPIV3Schema", c), -EINVAL);
    assert_cause(c, "FieldValueRequired", "Required value: must not be empty for specified object fields",
                 "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[x].type");
    assert_cause(c, "FieldValueForbidden", "Forbidden: $ref is not supported",
                 "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[r].$ref");
    assert_cause(c, "FieldValueForbidden",
                 "Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
                 "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[u].uniqueItems");
    assert_cause(c, "FieldValueForbidden", "Forbidden: additionalProperties and properties are mutual exclusive",
                 "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[m].additionalProperties");
    assert_cause(c, "FieldValueForbidden", "Forbidden: must be empty to be structural",
                 "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[a].anyOf[0].type");
    assert_cause(c, "FieldValueForbidden",
                 "Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified",
                 "spec.versions[0].schema.openAPIV3Schema.properties[metadata]");
    assert_cause(c, "FieldValueTypeInvalid",
                 "Invalid value: \"string\":  in body must be of type integer: \"string\"",
                 "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[d].default");
    json_decref(s);
    json_decref(c);

    s = J("{'type':'string'}");
    c = json_array();
    assert_int_equal(kl_schema_check_structural(s, c), -EINVAL);
    assert_cause(c, "FieldValueInvalid", "Invalid value: \"string\": must be object at the root",
                 "spec.validation.openAPIV3Schema.type");
    json_decref(s);
    json_decref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prune),
        cmocka_unit_test(test_default),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_every_violation_wording),
        cmocka_unit_test(test_numbers_arrays_objects),
        cmocka_unit_test(test_go_printing),
        cmocka_unit_test(test_int_or_string),
        cmocka_unit_test(test_list_types),
        cmocka_unit_test(test_formats_and_patterns),
        cmocka_unit_test(test_value_validations),
        cmocka_unit_test(test_embedded),
        cmocka_unit_test(test_structural),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
