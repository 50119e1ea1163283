# Fuzz targets of kube-lite's pure modules (hack/kube-lite/lib): patches and selectors.
# Without FUZZ each is built with its replay main and ctest runs the seed corpus; with FUZZ=ON
# (clang) they are libFuzzer binaries and ctest runs a short bounded session from the corpus.
if(NOT TARGET kubelite_lib)
  add_subdirectory(${CM_TEST_DIR}/../hack/kube-lite/lib ${CMAKE_BINARY_DIR}/kubelite_lib_standalone)
endif()
foreach(t kl_patch kl_selector)
  add_executable(fuzz_${t} ${CM_TEST_DIR}/fuzz/fuzz_${t}.c)
  target_link_libraries(fuzz_${t} PRIVATE kubelite_lib)
  # The fuzz targets check their properties with assert(); keep them in every build type.
  target_compile_options(fuzz_${t} PRIVATE -UNDEBUG)
  if(FUZZ)
    target_compile_definitions(fuzz_${t} PRIVATE CM_LIBFUZZER)
    target_compile_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
    # New inputs go to a temporary directory (libFuzzer writes into its first corpus
    # directory), never into the source tree.
    add_test(NAME fuzz_${t}
             COMMAND sh -c "d=$(mktemp -d) && $0 -runs=20000 -max_len=4096 \"$d\" \"$1\"; rc=$?; rm -rf \"$d\"; exit $rc"
                     $<TARGET_FILE:fuzz_${t}> ${CM_TEST_DIR}/fuzz/corpus/${t})
  else()
    add_test(NAME fuzz_${t} COMMAND fuzz_${t} ${CM_TEST_DIR}/fuzz/corpus/${t})
  endif()
  set_tests_properties(fuzz_${t} PROPERTIES TIMEOUT 120 LABELS fuzz)
endforeach()
