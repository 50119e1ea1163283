# The host farm's own tests (hack/hostfarm). They need root (namespaces, mounts) and start real
# sshd processes on their own auto-allocated 127.A.B ranges, so they may run in parallel.
# HOSTFARM_NSINIT points the farm at the built (possibly sanitized) helper.
foreach(t facts confine reboot ondemand stop)
  add_test(NAME hostfarm_${t}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/hostfarm_${t}.sh)
  set_tests_properties(hostfarm_${t} PROPERTIES
    TIMEOUT 600
    LABELS integration
    ENVIRONMENT "HOSTFARM_NSINIT=$<TARGET_FILE:hostfarm-nsinit>;HOSTFARM_MKTREE=$<TARGET_FILE:hostfarm-mktree>")
endforeach()
