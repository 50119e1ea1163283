# commissaire-shim integration tests: kube-lite (or the cluster of $KUBECONFIG) + real shims.
if(TARGET commissaire-shim AND TARGET kube-lite)
  add_executable(shim_itest ${CM_TEST_DIR}/integration/shim_itest.c)
  target_link_libraries(shim_itest PRIVATE kube base PkgConfig::CURL PkgConfig::JANSSON
                                           Threads::Threads)
  add_executable(shim_passhash ${CM_TEST_DIR}/integration/shim_passhash.c)
  target_link_libraries(shim_passhash PRIVATE PkgConfig::CRYPT)
  add_library(shim_test_plugin MODULE ${CM_TEST_DIR}/integration/shim_test_plugin.c)
  target_include_directories(shim_test_plugin PRIVATE ${CMAKE_SOURCE_DIR}/api-shim/include)
  set_target_properties(shim_test_plugin PROPERTIES PREFIX "")

  set(SHIM_TEST_ENV
    "KUBE_LITE=$<TARGET_FILE:kube-lite>"
    "COMMISSAIRE_SHIM=$<TARGET_FILE:commissaire-shim>"
    "SHIM_ITEST=$<TARGET_FILE:shim_itest>"
    "SHIM_PASSHASH=$<TARGET_FILE:shim_passhash>"
    "SHIM_TEST_PLUGIN=$<TARGET_FILE:shim_test_plugin>")
  foreach(t api auth hostile shutdown)
    add_test(NAME shim_${t} COMMAND bash ${CM_TEST_DIR}/integration/shim_${t}.sh)
    # Generous: the suite runs in parallel on two shared cores, under sanitizers.
    set_tests_properties(shim_${t} PROPERTIES TIMEOUT 600 LABELS integration
                         ENVIRONMENT "${SHIM_TEST_ENV}")
  endforeach()
endif()
