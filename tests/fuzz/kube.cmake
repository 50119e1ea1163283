# Fuzz target of controller/kube: the watch stream decoder and event parser.
# Without FUZZ it is built with its replay main and ctest runs the seed corpus.
if(FUZZ)
  add_executable(fuzz_kube_watch_decoder ${CM_TEST_DIR}/fuzz/fuzz_kube_watch_decoder.c)
  target_compile_definitions(fuzz_kube_watch_decoder PRIVATE CM_LIBFUZZER)
  target_compile_options(fuzz_kube_watch_decoder PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz_kube_watch_decoder PRIVATE -fsanitize=fuzzer)
else()
  add_executable(fuzz_kube_watch_decoder ${CM_TEST_DIR}/fuzz/fuzz_kube_watch_decoder.c)
endif()
target_link_libraries(fuzz_kube_watch_decoder PRIVATE kube)
if(FUZZ)
  # libFuzzer: a short bounded run seeded by the corpus; new inputs go to a temp dir (libFuzzer
  # writes into its first corpus directory), never into the source tree.
  add_test(NAME fuzz_kube_watch_decoder
           COMMAND sh -c "d=$(mktemp -d) && $0 -runs=20000 -max_len=8192 \"$d\" \"$1\"; rc=$?; rm -rf \"$d\"; exit $rc"
                   $<TARGET_FILE:fuzz_kube_watch_decoder> ${CM_TEST_DIR}/fuzz/corpus/kube_watch_decoder)
else()
  add_test(NAME fuzz_kube_watch_decoder
           COMMAND fuzz_kube_watch_decoder ${CM_TEST_DIR}/fuzz/corpus/kube_watch_decoder)
endif()
set_tests_properties(fuzz_kube_watch_decoder PROPERTIES TIMEOUT 120 LABELS fuzz)
