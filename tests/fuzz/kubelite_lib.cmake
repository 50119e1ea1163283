# Fuzz targets of kube-lite's pure modules (hack/kube-lite/lib): patches and selectors.
if(NOT TARGET kubelite_lib)
  add_subdirectory(${CM_TEST_DIR}/../hack/kube-lite/lib ${CMAKE_BINARY_DIR}/kubelite_lib_standalone)
endif()
foreach(t kl_patch kl_selector)
  cm_add_fuzz_target(NAME fuzz_${t} SOURCES ${CM_TEST_DIR}/fuzz/fuzz_${t}.c LIBS kubelite_lib
                     CORPUS ${CM_TEST_DIR}/fuzz/corpus/${t} MAX_LEN 4096)
endforeach()
