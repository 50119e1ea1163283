# kube-lite's integration tests: shell scripts that start kube-lite (tests/integration/lib/
# kubelite.sh) and drive it with curl and the real kubectl. With KUBECONFIG set in the
# environment, the conformance and kubectl tests run against that cluster instead; the tests
# that need kube-lite itself (fault injection, persistence) then skip (exit 77).
if(TARGET kube-lite)
  function(kl_add_script_test name script timeout)
    add_test(NAME ${name} COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/${script})
    set_tests_properties(${name} PROPERTIES
      TIMEOUT ${timeout} LABELS integration SKIP_RETURN_CODE 77
      ENVIRONMENT "KUBE_LITE=$<TARGET_FILE:kube-lite>")
  endfunction()
  kl_add_script_test(kubelite_conformance ../conformance/kubelite_conformance.sh 400)
  kl_add_script_test(kubelite_kubectl kubelite_kubectl.sh 450)
  kl_add_script_test(kubelite_faults kubelite_faults.sh 240)
  kl_add_script_test(kubelite_persist kubelite_persist.sh 450)
  kl_add_script_test(kubelite_eviction kubelite_eviction.sh 400)
  kl_add_script_test(kubelite_auth kubelite_auth.sh 200)
  kl_add_script_test(kubelite_rbac kubelite_rbac.sh 300)
endif()
