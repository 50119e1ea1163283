# Unit tests of controller/kube (one binary per module).
foreach(t url error ratelimit workqueue watch_decoder config status)
  cm_add_unit_test(NAME test_kube_${t} SOURCES ${CM_TEST_DIR}/unit/test_kube_${t}.c LIBS kube)
endforeach()
# Client, watch and informer tests against a scripted in-process HTTP server (test_kube_mock).
foreach(t client watch events)
  cm_add_unit_test(NAME test_kube_${t}
                   SOURCES ${CM_TEST_DIR}/unit/test_kube_${t}.c ${CM_TEST_DIR}/unit/test_kube_mock.c
                   LIBS kube PkgConfig::CURL TIMEOUT 120)
endforeach()
# Micro-benchmark of informer cache reads (not a test: run it by hand, see the file's header).
add_executable(kube_informer_bench ${CM_TEST_DIR}/bench/kube_informer_bench.c
               ${CM_TEST_DIR}/unit/test_kube_mock.c)
target_link_libraries(kube_informer_bench PRIVATE kube Threads::Threads)
