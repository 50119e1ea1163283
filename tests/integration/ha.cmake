# HA takeover (issue 7): two controller replicas with leader election against one kube-lite and a
# farm; only the leader acts; SIGKILL it mid-operation and the standby takes over within the
# lease duration and finishes the rolling restart without rebooting any host twice.
if(TARGET commissaire-controller AND TARGET kube-lite)
  add_test(NAME ha_takeover COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/ha_takeover.sh)
  set_tests_properties(ha_takeover PROPERTIES TIMEOUT 420 LABELS integration
    SKIP_RETURN_CODE 77
    ENVIRONMENT "KUBE_LITE=$<TARGET_FILE:kube-lite>;CONTROLLER=$<TARGET_FILE:commissaire-controller>;REPO=${CMAKE_SOURCE_DIR};HOSTFARM_NSINIT=$<$<TARGET_EXISTS:hostfarm-nsinit>:$<TARGET_FILE:hostfarm-nsinit>>;ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()
