/* Fuzz target of kube-lite's kl_patch: merge patch, JSON patch and strategic merge patch.
 *
 * Input: one selector byte, then "<target JSON>\n--\n<patch JSON>". The selector picks the patch
 * flavour (and, for strategic merge patch, the kind). Properties checked besides memory safety:
 * a failed patch leaves the target untouched and sets a message; a merge patch applied twice
 * gives the same result as once (RFC 7386 patches are idempotent); a successful strategic merge
 * patch never leaves a directive key at the top level.
 * Built two ways: with -DFUZZ=ON (clang) as a libFuzzer binary; otherwise with a replay main. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kl_patch.h"

static const struct {
    const char *group, *kind;
} kinds[] = {
    {"", "Pod"}, {"apps", "Deployment"}, {"", "Service"}, {"", "Node"}, {"policy", "PodDisruptionBudget"},
    {"", "ConfigMap"}, {"", "ServiceAccount"}, {"commissaire.io", "Host"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *sep;
    char *text;
    json_t *target, *patch, *before;
    char *err = NULL;
    int r;

    if (size < 1 || size > 64 * 1024)
        return 0;
    text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    sep = strstr(text, "\n--\n");
    if (!sep) {
        free(text);
        return 0;
    }
    target = json_loadb(text, (size_t)(sep - text), JSON_DECODE_ANY, NULL);
    patch = json_loads(sep + 4, JSON_DECODE_ANY, NULL);
    if (!target || !patch)
        goto out;
    before = json_deep_copy(target);
    switch (data[0] % 3) {
    case 0:
        r = kl_patch_merge(&target, patch, &err);
        if (r == 0) {
            json_t *twice = json_deep_copy(target);
            char *e2 = NULL;
            assert(kl_patch_merge(&twice, patch, &e2) == 0);
            assert(json_equal(twice, target));
            json_decref(twice);
            free(e2);
        }
        break;
    case 1:
        r = kl_patch_json(&target, patch, &err);
        break;
    default: {
        size_t k = (size_t)(data[0] / 3) % (sizeof(kinds) / sizeof(kinds[0]));
        r = kl_patch_strategic(&target, patch, kinds[k].group, kinds[k].kind, &err);
        if (r == 0 && json_is_object(target)) {
            const char *key;
            json_t *v;
            json_object_foreach(target, key, v) assert(strcmp(key, "$patch") && strcmp(key, "$retainKeys") &&
                                                       strncmp(key, "$setElementOrder/", 17));
        }
    }
    }
    if (r != 0) {
        assert(r < 0);
        assert(r == -ENOMEM || err != NULL);
        assert(json_equal(target, before));
    }
    json_decref(before);
out:
    free(err);
    json_decref(target);
    json_decref(patch);
    free(text);
    return 0;
}
