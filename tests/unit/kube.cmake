# Unit tests of controller/kube (one binary per module).
foreach(t url error ratelimit workqueue watch_decoder config status)
  cm_add_unit_test(NAME test_kube_${t} SOURCES ${CM_TEST_DIR}/unit/test_kube_${t}.c LIBS kube)
endforeach()
