# Fuzz target of kube-lite's server side: the protobuf body decoder (kl_proto). Same scheme as
# kubelite_lib.cmake: a replay main under ctest without FUZZ, a bounded libFuzzer run with it.
if(TARGET kubelite_server)
  # kl_proto.c is compiled into the target (not linked from kubelite_server) so that libFuzzer
  # instruments it for coverage.
  add_executable(fuzz_kl_proto ${CM_TEST_DIR}/fuzz/fuzz_kl_proto.c
                 ${CM_TEST_DIR}/../hack/kube-lite/kl_proto.c)
  target_include_directories(fuzz_kl_proto PRIVATE ${CM_TEST_DIR}/../hack/kube-lite)
  target_link_libraries(fuzz_kl_proto PRIVATE PkgConfig::JANSSON PkgConfig::OPENSSL)
  target_compile_options(fuzz_kl_proto PRIVATE -UNDEBUG)
  if(FUZZ)
    target_compile_definitions(fuzz_kl_proto PRIVATE CM_LIBFUZZER)
    target_compile_options(fuzz_kl_proto PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_kl_proto PRIVATE -fsanitize=fuzzer)
    add_test(NAME fuzz_kl_proto
             COMMAND sh -c "d=$(mktemp -d) && $0 -runs=20000 -max_len=4096 \"$d\" \"$1\"; rc=$?; rm -rf \"$d\"; exit $rc"
                     $<TARGET_FILE:fuzz_kl_proto> ${CM_TEST_DIR}/fuzz/corpus/kl_proto)
  else()
    add_test(NAME fuzz_kl_proto COMMAND fuzz_kl_proto ${CM_TEST_DIR}/fuzz/corpus/kl_proto)
  endif()
  set_tests_properties(fuzz_kl_proto PROPERTIES TIMEOUT 120 LABELS fuzz)
endif()
