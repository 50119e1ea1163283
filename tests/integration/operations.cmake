# Integration tests of the Operation reconciler (rolling restart/upgrade/deploy): kube-lite +
# the host farm + commissaire-controller, driven with real kubectl. Each test has its own
# kube-lite (free port) and its own farm (free loopback range), so they run in parallel.
if(TARGET commissaire-controller AND TARGET kube-lite)
  set(OP_IT_ENV "KUBE_LITE=$<TARGET_FILE:kube-lite>;CONTROLLER=$<TARGET_FILE:commissaire-controller>;REPO=${CMAKE_SOURCE_DIR};ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
  # Timeouts are upper bounds for a heavily loaded machine (the host bootstrap before each
  # operation dominates there); on an idle 2-core machine each test takes well under a minute.
  foreach(t restart failure upgrade_deploy control crash)
    add_test(NAME op_${t} COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/op_${t}.sh)
    set_tests_properties(op_${t} PROPERTIES TIMEOUT 600 LABELS integration
                         ENVIRONMENT "${OP_IT_ENV}" SKIP_RETURN_CODE 77)
  endforeach()
endif()
