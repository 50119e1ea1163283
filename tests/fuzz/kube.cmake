# Fuzz target of controller/kube: the watch stream decoder and event parser.
cm_add_fuzz_target(NAME fuzz_kube_watch_decoder
                   SOURCES ${CM_TEST_DIR}/fuzz/fuzz_kube_watch_decoder.c LIBS kube
                   CORPUS ${CM_TEST_DIR}/fuzz/corpus/kube_watch_decoder MAX_LEN 8192)
