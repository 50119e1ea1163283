# Unit tests of kube-lite's pure modules (hack/kube-lite/lib). The library is normally added by
# hack/kube-lite/CMakeLists.txt; when that is absent (kube-lite under construction) it is added
# here, so these tests never depend on the server being buildable.
if(NOT TARGET kubelite_lib)
  add_subdirectory(${CM_TEST_DIR}/../hack/kube-lite/lib ${CMAKE_BINARY_DIR}/kubelite_lib_standalone)
endif()
foreach(m schema patch selector table)
  if(EXISTS ${CM_TEST_DIR}/unit/test_kl_${m}.c)
    cm_add_unit_test(NAME test_kl_${m} SOURCES ${CM_TEST_DIR}/unit/test_kl_${m}.c LIBS kubelite_lib)
  endif()
endforeach()
