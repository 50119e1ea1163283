# Unit tests of kube-lite's server modules (hack/kube-lite, library kubelite_server).
if(TARGET kubelite_server)
  foreach(t store proto auth persist fault)
    cm_add_unit_test(NAME test_kls_${t} SOURCES ${CM_TEST_DIR}/unit/test_kls_${t}.c
                     LIBS kubelite_server)
  endforeach()
endif()
