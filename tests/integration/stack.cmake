# The local stack end to end (issue 7): ./hack/up.sh with the binaries this build made (no
# rebuild: CM_* point at them; STACK_DIR is private to the test), its demo (hosts active, the
# sample rolling restart finished), the stack used after up.sh returned, then ./hack/down.sh
# leaves nothing running. Needs root (the host farm).
if(TARGET commissaire-controller AND TARGET commissaire-shim AND TARGET kube-lite)
  add_test(NAME stack_up_down COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/stack_up_down.sh)
  set_tests_properties(stack_up_down PROPERTIES TIMEOUT 400 LABELS integration
    SKIP_RETURN_CODE 77
    ENVIRONMENT "CM_KUBE_LITE=$<TARGET_FILE:kube-lite>;CM_CONTROLLER=$<TARGET_FILE:commissaire-controller>;CM_SHIM=$<TARGET_FILE:commissaire-shim>;CM_PASSHASH=$<$<TARGET_EXISTS:shim_passhash>:$<TARGET_FILE:shim_passhash>>;CM_NSINIT=$<$<TARGET_EXISTS:hostfarm-nsinit>:$<TARGET_FILE:hostfarm-nsinit>>;REPO=${CMAKE_SOURCE_DIR};ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()
