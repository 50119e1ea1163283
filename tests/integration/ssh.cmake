# sshc integration tests: a real OpenSSH sshd started by the test script (ssh_lib.sh); and the
# facts benchmark (tests/bench/ssh_facts_bench.c), smoke-tested here so it cannot rot.
if(TARGET sshc)
  add_executable(ssh_it ${CM_TEST_DIR}/integration/ssh_it.c)
  target_link_libraries(ssh_it PRIVATE sshc PkgConfig::CMOCKA Threads::Threads)
  add_test(NAME ssh_it COMMAND ${CM_TEST_DIR}/integration/ssh_it.sh $<TARGET_FILE:ssh_it>)
  set_tests_properties(ssh_it PROPERTIES TIMEOUT 120 LABELS integration)

  add_executable(ssh_facts_bench ${CM_TEST_DIR}/bench/ssh_facts_bench.c)
  target_link_libraries(ssh_facts_bench PRIVATE sshc Threads::Threads)
  add_test(NAME ssh_facts_bench_smoke
           COMMAND ${CM_TEST_DIR}/integration/ssh_bench_smoke.sh $<TARGET_FILE:ssh_facts_bench>)
  set_tests_properties(ssh_facts_bench_smoke PROPERTIES TIMEOUT 120 LABELS integration)
endif()

# sshc + hostos profiles against the host farm (needs root, like every farm test).
if(TARGET sshc AND TARGET hostos)
  add_executable(ssh_farm_it ${CM_TEST_DIR}/integration/ssh_farm_it.c)
  target_link_libraries(ssh_farm_it PRIVATE sshc hostos PkgConfig::CMOCKA Threads::Threads)
  add_test(NAME ssh_farm_it
           COMMAND ${CM_TEST_DIR}/integration/ssh_farm_it.sh $<TARGET_FILE:ssh_farm_it>)
  set_tests_properties(ssh_farm_it PROPERTIES TIMEOUT 240 LABELS integration)
endif()
