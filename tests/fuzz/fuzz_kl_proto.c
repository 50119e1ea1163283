/* Fuzz target: kube-lite's protobuf body decoder (hack/kube-lite/kl_proto.c), which reads
 * request bodies from any authenticated client. Properties: no crash, no leak, and a success
 * always yields an object with a string kind. */
#include "kl_proto.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *doc = NULL;
    char *err = NULL;
    int r = kl_proto_decode((const char *)data, size, &doc, &err);
    if (r == 0) {
        assert(json_is_object(doc));
        assert(json_is_string(json_object_get(doc, "kind")));
        char *txt = json_dumps(doc, JSON_COMPACT);
        assert(txt);
        free(txt);
    } else {
        assert(!doc);
    }
    json_decref(doc);
    free(err);
    return 0;
}
