# Integration tests of commissaire-controller: kube-lite + the host farm (real sshd hosts) +
# the controller, driven with real kubectl. Each test starts its own kube-lite on a free port
# and its own farm on a free loopback range, so they can run in parallel.
if(TARGET commissaire-controller AND TARGET kube-lite)
  set(CT_ENV "KUBE_LITE=$<TARGET_FILE:kube-lite>;CONTROLLER=$<TARGET_FILE:commissaire-controller>;REPO=${CMAKE_SOURCE_DIR};ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
  foreach(t lifecycle failures reboot cluster decommission schema)
    add_test(NAME controller_host_${t}
             COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/controller_host_${t}.sh)
    set_tests_properties(controller_host_${t} PROPERTIES TIMEOUT 600 LABELS integration
                         ENVIRONMENT "${CT_ENV}" SKIP_RETURN_CODE 77)
  endforeach()
endif()
