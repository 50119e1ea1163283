# sshc integration tests: a real OpenSSH sshd started by the test script (ssh_lib.sh).
if(TARGET sshc)
  add_executable(ssh_it ${CM_TEST_DIR}/integration/ssh_it.c)
  target_link_libraries(ssh_it PRIVATE sshc PkgConfig::CMOCKA Threads::Threads)
  add_test(NAME ssh_it COMMAND ${CM_TEST_DIR}/integration/ssh_it.sh $<TARGET_FILE:ssh_it>)
  set_tests_properties(ssh_it PROPERTIES TIMEOUT 120 LABELS integration)
endif()
