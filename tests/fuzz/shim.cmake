# Fuzz target of commissaire-shim: the router and the JSON request decoders.
# Without FUZZ it is built with its replay main and ctest runs the seed corpus; with FUZZ=ON
# (clang) it is a libFuzzer binary and ctest runs a short bounded session from the corpus.
if(TARGET shimcore)
  add_executable(fuzz_shim_request ${CM_TEST_DIR}/fuzz/fuzz_shim_request.c)
  target_link_libraries(fuzz_shim_request PRIVATE shimcore)
  target_compile_options(fuzz_shim_request PRIVATE -UNDEBUG)
  if(FUZZ)
    target_compile_definitions(fuzz_shim_request PRIVATE CM_LIBFUZZER)
    target_compile_options(fuzz_shim_request PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_shim_request PRIVATE -fsanitize=fuzzer)
    add_test(NAME fuzz_shim_request
             COMMAND sh -c "d=$(mktemp -d) && $0 -runs=20000 -max_len=4096 \"$d\" \"$1\"; rc=$?; rm -rf \"$d\"; exit $rc"
                     $<TARGET_FILE:fuzz_shim_request> ${CM_TEST_DIR}/fuzz/corpus/shim_request)
  else()
    add_test(NAME fuzz_shim_request
             COMMAND fuzz_shim_request ${CM_TEST_DIR}/fuzz/corpus/shim_request)
  endif()
  set_tests_properties(fuzz_shim_request PROPERTIES TIMEOUT 120 LABELS fuzz)
endif()
