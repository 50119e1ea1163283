/* Unit tests of the fact parser on outputs of sshc_facts_script() captured from (or shaped
 * exactly like) Fedora, CentOS 7, RHEL, Fedora Atomic Host, Debian and an unknown OS. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sshc.h"
#include "sshc_facts.h"

#define TAIL(cpus, mem, avail, kernel, boot, host)                                              \
    "@@facts:nproc\n" cpus "\n"                                                                \
    "@@facts:memtotal\n" mem "\n"                                                              \
    "@@facts:df\n"                                                                             \
    "Filesystem     1024-blocks     Used Available Capacity Mounted on\n"                      \
    "/dev/vda1         41152736  9876543 " avail "      25% /\n"                               \
    "@@facts:kernel\n" kernel "\n"                                                             \
    "@@facts:boot-id\n" boot "\n"                                                              \
    "@@facts:hostname\n" host "\n"                                                             \
    "@@facts:end\n"

static const char fedora[] =
    "@@facts:os-release\n"
    "NAME=\"Fedora Linux\"\n"
    "VERSION=\"39 (Server Edition)\"\n"
    "ID=fedora\n"
    "VERSION_ID=39\n"
    "PRETTY_NAME=\"Fedora Linux 39 (Server Edition)\"\n"
    "CPE_NAME=\"cpe:/o:fedoraproject:fedora:39\"\n"
    "@@facts:ostree-booted\nno\n"
    "@@facts:rpm-ostree\n" TAIL("4", "8131508", "29876543", "6.5.6-300.fc39.x86_64",
                                "0b6c7a3e-6c45-4f6e-9d9a-3c1a2b3c4d5e", "fed1.example.com");

static const char centos7[] =
    "@@facts:os-release\n"
    "NAME=\"CentOS Linux\"\n"
    "VERSION=\"7 (Core)\"\n"
    "ID=\"centos\"\n"
    "ID_LIKE=\"rhel fedora\"\n"
    "VERSION_ID=\"7\"\n"
    "@@facts:ostree-booted\nno\n"
    "@@facts:rpm-ostree\n" TAIL("2", "3880412", "15000000", "3.10.0-1160.el7.x86_64",
                                "d3b07384-d9a0-4c9b-8f1e-1a2b3c4d5e6f", "c7");

static const char rhel[] =
    "@@facts:os-release\n"
    "NAME=\"Red Hat Enterprise Linux Server\"\n"
    "ID=\"rhel\"\n"
    "ID_LIKE=\"fedora\"\n"
    "VERSION_ID=\"7.9\"\n"
    "@@facts:ostree-booted\nno\n"
    "@@facts:rpm-ostree\n" TAIL("8", "16266132", "1", "3.10.0-1160.el7.x86_64",
                                "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "rhel7");

static const char atomic[] =
    "@@facts:os-release\n"
    "NAME=Fedora\n"
    "VERSION=\"29.20191126.0 (Atomic Host)\"\n"
    "ID=fedora\n"
    "VERSION_ID=29\n"
    "VARIANT_ID=atomic.host\n"
    "OSTREE_VERSION='29.20191126.0'\n"
    "@@facts:ostree-booted\nyes\n"
    "@@facts:rpm-ostree\n"
    "{\n  \"deployments\" : [\n"
    "    {\"id\" : \"fedora-atomic-a\", \"version\" : \"29.20191201.0\", \"booted\" : false,"
    " \"staged\" : true},\n"
    "    {\"id\" : \"fedora-atomic-b\", \"version\" : \"29.20191126.0\", \"booted\" : true,"
    " \"staged\" : false}\n"
    "  ],\n  \"transaction\" : null,\n  \"cached-update\" : null\n}\n" TAIL(
        "1", "2041140", "20000004", "5.3.11-100.fc29.x86_64",
        "11111111-2222-3333-4444-555555555555", "farm-127-31-0-4");

static const char debian[] =
    "@@facts:os-release\n"
    "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
    "NAME=\"Debian GNU/Linux\"\n"
    "VERSION_ID=\"12\"\n"
    "VERSION=\"12 (bookworm)\"\n"
    "VERSION_CODENAME=bookworm\n"
    "ID=debian\n"
    "HOME_URL=\"https://www.debian.org/\"\n"
    "@@facts:ostree-booted\nno\n"
    "@@facts:rpm-ostree\n" TAIL("2", "4019400", "51234567", "6.1.0-13-amd64",
                                "9e8d7c6b-5a4f-3e2d-1c0b-a9f8e7d6c5b4", "deb12");

static const char unknown_os[] =
    "@@facts:os-release\n"
    "NAME=Slackware\n"
    "VERSION=\"15.0\"\n"
    "ID=slackware\n"
    "VERSION_ID=15.0\n"
    "@@facts:ostree-booted\nno\n"
    "@@facts:rpm-ostree\n" TAIL("1", "1000000", "300", "5.15.19", "x-y-z", "slack");

static struct sshc_facts parse_ok(const char *out) {
    struct sshc_facts f;
    struct sshc_error err;
    int r = sshc_facts_parse(out, strlen(out), &f, &err);
    if (r < 0)
        fail_msg("parse: %s", err.message);
    return f;
}

static void test_fedora(void **state) {
    struct sshc_facts f = parse_ok(fedora);
    assert_string_equal(f.os_id, "fedora");
    assert_string_equal(f.os_id_like, "");
    assert_string_equal(f.os_version_id, "39");
    assert_string_equal(f.os_name, "Fedora Linux");
    assert_false(f.atomic);
    assert_string_equal(f.ostree_version, "");
    assert_int_equal(f.cpus, 4);
    assert_int_equal(f.memory_kib, 8131508);
    assert_int_equal(f.space_kib, 29876543);
    assert_string_equal(f.kernel, "6.5.6-300.fc39.x86_64");
    assert_string_equal(f.boot_id, "0b6c7a3e-6c45-4f6e-9d9a-3c1a2b3c4d5e");
    assert_string_equal(f.hostname, "fed1.example.com");
    sshc_facts_done(&f);
}

static void test_centos_and_rhel(void **state) {
    struct sshc_facts f = parse_ok(centos7);
    assert_string_equal(f.os_id, "centos");
    assert_string_equal(f.os_id_like, "rhel fedora");
    assert_string_equal(f.os_version_id, "7");
    assert_string_equal(f.os_name, "CentOS Linux");
    assert_int_equal(f.cpus, 2);
    sshc_facts_done(&f);
    f = parse_ok(rhel);
    assert_string_equal(f.os_id, "rhel");
    assert_string_equal(f.os_version_id, "7.9");
    assert_int_equal(f.space_kib, 1);
    sshc_facts_done(&f);
}

static void test_atomic(void **state) {
    struct sshc_facts f = parse_ok(atomic);
    assert_string_equal(f.os_id, "fedora");
    assert_true(f.atomic);
    /* The booted deployment, not the staged one. */
    assert_string_equal(f.ostree_version, "29.20191126.0");
    assert_string_equal(f.hostname, "farm-127-31-0-4");
    sshc_facts_done(&f);
}

static void test_atomic_from_os_release_and_sysfs_cpus(void **state) {
    /* What the script prints on an rpm-ostree host whose os-release names the tree: rpm-ostree
     * itself is not run, and the CPU list comes from sysfs. */
    const char out[] = "@@facts:os-release\n"
                       "ID=fedora\nVERSION_ID=29\nVARIANT_ID=atomic.host\n"
                       "OSTREE_VERSION='29.20191126.0'\n"
                       "@@facts:ostree-booted\nyes\n"
                       "@@facts:rpm-ostree\n" TAIL("online 0-3,6,8-9", "1", "1", "k", "b", "h");
    struct sshc_facts f = parse_ok(out);
    assert_true(f.atomic);
    assert_string_equal(f.ostree_version, "29.20191126.0");
    assert_int_equal(f.cpus, 7);
    sshc_facts_done(&f);
    /* A single CPU, and OSTREE_VERSION on a host not booted from an OSTree is ignored. */
    const char out2[] = "@@facts:os-release\nID=fedora\nOSTREE_VERSION=1\n"
                        "@@facts:ostree-booted\nno\n"
                        "@@facts:rpm-ostree\n" TAIL("online 0", "1", "1", "k", "b", "h");
    f = parse_ok(out2);
    assert_false(f.atomic);
    assert_string_equal(f.ostree_version, "");
    assert_int_equal(f.cpus, 1);
    sshc_facts_done(&f);
}

static void test_debian_and_unknown(void **state) {
    struct sshc_facts f = parse_ok(debian);
    assert_string_equal(f.os_id, "debian");
    assert_string_equal(f.os_name, "Debian GNU/Linux");
    assert_int_equal(f.memory_kib, 4019400);
    assert_int_equal(f.space_kib, 51234567);
    sshc_facts_done(&f);
    f = parse_ok(unknown_os);
    assert_string_equal(f.os_id, "slackware");
    assert_string_equal(f.os_version_id, "15.0");
    sshc_facts_done(&f);
}

static void test_no_os_release_is_unknown_not_error(void **state) {
    const char out[] = "@@facts:os-release\n@@facts:ostree-booted\nno\n@@facts:rpm-ostree\n" TAIL(
        "1", "1000", "5", "k", "b", "h");
    struct sshc_facts f = parse_ok(out);
    assert_string_equal(f.os_id, "");
    assert_string_equal(f.os_version_id, "");
    sshc_facts_done(&f);
}

static void test_quoting_and_case(void **state) {
    const char out[] = "@@facts:os-release\n"
                       "# comment ID=nope\n"
                       "ID=\"Fedora\"\n"
                       "NAME=\"Say \\\"hi\\\" \\$x\"\n"
                       "ID_LIKE='RHEL centos'\n"
                       "@@facts:ostree-booted\nno\n@@facts:rpm-ostree\n" TAIL("1", "1", "1", "k",
                                                                             "b", "h");
    struct sshc_facts f = parse_ok(out);
    assert_string_equal(f.os_id, "fedora");
    assert_string_equal(f.os_id_like, "rhel centos");
    assert_string_equal(f.os_name, "Say \"hi\" $x");
    sshc_facts_done(&f);
}

static void expect_bad(const char *out, const char *what) {
    struct sshc_facts f;
    struct sshc_error err;
    assert_int_equal(sshc_facts_parse(out, strlen(out), &f, &err), -EBADMSG);
    assert_int_equal(err.kind, SSHC_ERR_PARSE);
    if (!strstr(err.message, what))
        fail_msg("message '%s' does not mention '%s'", err.message, what);
}

static void test_malformed(void **state) {
    /* Cut off before the end marker. */
    char cut[sizeof(fedora)];
    memcpy(cut, fedora, sizeof(fedora));
    *strstr(cut, "@@facts:end") = '\0';
    expect_bad(cut, "end marker");
    /* Non-numeric CPU count. */
    expect_bad("@@facts:os-release\n@@facts:ostree-booted\nno\n@@facts:rpm-ostree\n" TAIL(
                   "four", "1", "1", "k", "b", "h"),
               "nproc");
    expect_bad("@@facts:os-release\n@@facts:ostree-booted\nno\n@@facts:rpm-ostree\n" TAIL(
                   "0", "1", "1", "k", "b", "h"),
               "nproc");
    expect_bad("@@facts:os-release\n@@facts:ostree-booted\nno\n@@facts:rpm-ostree\n" TAIL(
                   "online 3-1", "1", "1", "k", "b", "h"),
               "nproc");
    expect_bad("@@facts:os-release\n@@facts:ostree-booted\nno\n@@facts:rpm-ostree\n" TAIL(
                   "online 0-3;4", "1", "1", "k", "b", "h"),
               "nproc");
    /* Empty meminfo answer. */
    expect_bad("@@facts:os-release\n@@facts:ostree-booted\nno\n@@facts:rpm-ostree\n" TAIL(
                   "1", "", "1", "k", "b", "h"),
               "MemTotal");
    /* df without a data line. */
    expect_bad("@@facts:nproc\n1\n@@facts:memtotal\n1\n@@facts:df\nFilesystem only\n"
               "@@facts:kernel\nk\n@@facts:boot-id\nb\n@@facts:hostname\nh\n@@facts:end\n",
               "df");
    /* Missing hostname section. */
    expect_bad("@@facts:nproc\n1\n@@facts:memtotal\n1\n@@facts:df\nh\n/dev/x 1 1 7 1% /\n"
               "@@facts:kernel\nk\n@@facts:boot-id\nb\n@@facts:end\n",
               "hostname");
    /* A section twice (a host echoing markers) is rejected. */
    expect_bad("@@facts:nproc\n1\n@@facts:nproc\n2\n@@facts:end\n", "section markers");
    /* Two-line kernel. */
    expect_bad("@@facts:nproc\n1\n@@facts:memtotal\n1\n@@facts:df\nh\n/dev/x 1 1 7 1% /\n"
               "@@facts:kernel\nk\nk2\n@@facts:boot-id\nb\n@@facts:hostname\nh\n@@facts:end\n",
               "uname");
}

static void test_df_with_spaces_in_device(void **state) {
    const char out[] = "@@facts:nproc\n3\n@@facts:memtotal\n77\n@@facts:df\n"
                       "Filesystem 1024-blocks Used Available Capacity Mounted on\n"
                       "my pool/root fs 100 40 60 40% /\n"
                       "@@facts:kernel\nk\n@@facts:boot-id\nb\n@@facts:hostname\nh\n@@facts:end\n";
    struct sshc_facts f = parse_ok(out);
    assert_int_equal(f.space_kib, 60);
    assert_int_equal(f.memory_kib, 77);
    sshc_facts_done(&f);
}

static void test_script_has_every_section(void **state) {
    const char *s = sshc_facts_script();
    const char *names[] = {"os-release", "ostree-booted", "rpm-ostree", "nproc", "memtotal",
                           "df", "kernel", "boot-id", "hostname", "end"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char m[64];
        snprintf(m, sizeof(m), "echo '@@facts:%s'", names[i]);
        assert_non_null(strstr(s, m));
    }
    assert_non_null(strstr(s, "/proc/sys/kernel/random/boot_id"));
    assert_non_null(strstr(s, "df -Pk /"));
    /* Every process is a fork+exec on every host at every check: the kernel release comes from
     * /proc (the farm serves its emulated one there too), df is the only program run. */
    assert_non_null(strstr(s, "</proc/sys/kernel/osrelease"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fedora),
        cmocka_unit_test(test_centos_and_rhel),
        cmocka_unit_test(test_atomic),
        cmocka_unit_test(test_atomic_from_os_release_and_sysfs_cpus),
        cmocka_unit_test(test_debian_and_unknown),
        cmocka_unit_test(test_no_os_release_is_unknown_not_error),
        cmocka_unit_test(test_quoting_and_case),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_df_with_spaces_in_device),
        cmocka_unit_test(test_script_has_every_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
