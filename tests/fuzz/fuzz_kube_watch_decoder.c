/* Fuzz target for the watch stream decoder and event parser.
 *
 * The input is split into chunks at positions derived from its first bytes (so the fuzzer
 * explores lines broken across writes), fed to a decoder with a small cap, and every complete
 * line is parsed as a watch event. Invariants checked: the decoder never buffers more than its
 * cap, lines handed out are NUL-terminated with the stated length, and a parsed event's object
 * is a JSON object.
 *
 * Built two ways: with -DFUZZ=ON (clang) as a libFuzzer binary; otherwise with the replay main
 * below, which runs every file of the seed corpus directories given as arguments, so ctest
 * exercises the target without libFuzzer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_error.h"
#include "kube_watch_decoder.h"

#define CAP 4096

static int on_line(const char *line, size_t len, void *ud) {
    (void)ud;
    if (line[len] != '\0' || len > CAP) /* NUL-terminated at len (NULs inside are data) */
        abort();
    enum kube_watch_event_type t;
    json_t *obj = NULL;
    struct kube_error e;
    kube_error_init(&e);
    if (kube_watch_event_parse(line, len, &t, &obj, &e) == 0) {
        if (!json_is_object(obj) || (unsigned)t > KUBE_WATCH_ERROR)
            abort();
        json_decref(obj);
    } else if (obj) {
        abort();
    }
    kube_error_done(&e);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct kube_watch_decoder d;
    kube_watch_decoder_init(&d, CAP);
    size_t step = size > 0 ? (size_t)data[0] % 64 + 1 : 1;
    size_t off = 0;
    while (off < size) {
        size_t n = size - off < step ? size - off : step;
        kube_watch_decoder_feed(&d, (const char *)data + off, n, on_line, NULL);
        if (kube_watch_decoder_pending(&d) > CAP)
            abort();
        off += n;
        step = step * 7 % 97 + 1; /* vary chunk sizes */
    }
    kube_watch_decoder_done(&d);
    return 0;
}
