# The shipped RBAC, proved by use: kube-lite enforces RBAC and the controller runs as its
# ServiceAccount (tests/integration/controller_rbac.sh).
if(TARGET commissaire-controller AND TARGET kube-lite)
  add_test(NAME controller_rbac COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/controller_rbac.sh)
  set_tests_properties(controller_rbac PROPERTIES TIMEOUT 600 LABELS integration
    SKIP_RETURN_CODE 77
    ENVIRONMENT "KUBE_LITE=$<TARGET_FILE:kube-lite>;CONTROLLER=$<TARGET_FILE:commissaire-controller>;REPO=${CMAKE_SOURCE_DIR};ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()
# shim_itest and shim_passhash come from shim.cmake (generator expressions resolve at the end).
if(TARGET commissaire-shim AND TARGET kube-lite)
  add_test(NAME shim_rbac COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/shim_rbac.sh)
  set_tests_properties(shim_rbac PROPERTIES TIMEOUT 600 LABELS integration SKIP_RETURN_CODE 77
    ENVIRONMENT "KUBE_LITE=$<TARGET_FILE:kube-lite>;COMMISSAIRE_SHIM=$<TARGET_FILE:commissaire-shim>;SHIM_ITEST=$<TARGET_FILE:shim_itest>;SHIM_PASSHASH=$<TARGET_FILE:shim_passhash>")
endif()
