# Unit tests of controller/reconcile (pure parts: decisions, status computation, parsing).
if(TARGET reconcile)
  cm_add_unit_test(NAME test_reconcile_duration
                   SOURCES ${CM_TEST_DIR}/unit/test_reconcile_duration.c LIBS reconcile)
  cm_add_unit_test(NAME test_reconcile_metrics
                   SOURCES ${CM_TEST_DIR}/unit/test_reconcile_metrics.c LIBS reconcile)
  cm_add_unit_test(NAME test_reconcile_state
                   SOURCES ${CM_TEST_DIR}/unit/test_reconcile_state.c LIBS reconcile)
endif()
if(TARGET reconcile)
  cm_add_unit_test(NAME test_reconcile_framework
                   SOURCES ${CM_TEST_DIR}/unit/test_reconcile_framework.c LIBS reconcile
                   TIMEOUT 60)
endif()
if(TARGET reconcile)
  cm_add_unit_test(NAME test_reconcile_vars
                   SOURCES ${CM_TEST_DIR}/unit/test_reconcile_vars.c LIBS reconcile)
endif()
if(TARGET reconcile)
  cm_add_unit_test(NAME test_reconcile_profile
                   SOURCES ${CM_TEST_DIR}/unit/test_reconcile_profile.c LIBS reconcile)
  target_compile_definitions(test_reconcile_profile PRIVATE
                             PROFILES_DIR="${CMAKE_SOURCE_DIR}/controller/hostos/profiles")
endif()
if(TARGET reconcile)
  cm_add_unit_test(NAME test_reconcile_script
                   SOURCES ${CM_TEST_DIR}/unit/test_reconcile_script.c LIBS reconcile)
endif()
