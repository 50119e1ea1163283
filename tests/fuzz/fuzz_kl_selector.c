/* Fuzz target of kube-lite's kl_selector: label selector and field selector parsers, and the
 * metav1.LabelSelector conversion when the input is JSON.
 *
 * Properties checked besides memory safety: a parse either succeeds with a selector or fails
 * with a message; an empty requirement list matches every label set; matching never depends on
 * anything but its inputs (same answer twice).
 * Built two ways: with -DFUZZ=ON (clang) as a libFuzzer binary; otherwise with a replay main. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kl_selector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;
    struct kl_labelsel *ls = NULL;
    struct kl_fieldsel *fs = NULL;
    char *err = NULL;
    json_t *labels, *obj, *j;
    int r;

    if (size > 16 * 1024)
        return 0;
    s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    labels = json_pack("{s:s, s:s, s:s, s:s}", "app", "web", "tier", "1", "commissaire.io/cluster", "c1", "x", "");
    obj = json_pack("{s:{s:s, s:s}, s:{s:s}, s:s}", "metadata", "name", "n", "namespace", "ns", "spec", "nodeName",
                    "node1", "type", "Warning");

    r = kl_labelsel_parse(s, &ls, &err);
    if (r == 0) {
        int m = kl_labelsel_match(ls, labels);
        assert(m == kl_labelsel_match(ls, labels));
        if (kl_labelsel_empty(ls))
            assert(m == 1 && kl_labelsel_match(ls, NULL) == 1);
        kl_labelsel_free(ls);
        ls = NULL;
    } else {
        assert(r == -ENOMEM || (r == -EINVAL && err));
    }
    free(err);
    err = NULL;

    r = kl_fieldsel_parse(s, &fs, &err);
    if (r == 0) {
        int m = kl_fieldsel_match(fs, obj);
        assert(m == kl_fieldsel_match(fs, obj));
        for (size_t i = 0; i < kl_fieldsel_count(fs); i++)
            assert(kl_fieldsel_field(fs, i) && kl_fieldsel_value(fs, i));
        kl_fieldsel_free(fs);
    } else {
        assert(r == -ENOMEM || (r == -EINVAL && err));
    }
    free(err);
    err = NULL;

    j = json_loads(s, JSON_DECODE_ANY, NULL);
    if (j) {
        r = kl_labelsel_from_object(j, &ls, &err);
        if (r == 0) {
            (void)kl_labelsel_match(ls, labels);
            kl_labelsel_free(ls);
        }
        free(err);
        json_decref(j);
    }
    json_decref(labels);
    json_decref(obj);
    free(s);
    return 0;
}
