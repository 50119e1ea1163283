# commissaire-shim unit tests: the pure modules of shimcore (no server, no API server).
if(TARGET shimcore)
  cm_add_unit_test(NAME test_shim_router SOURCES ${CM_TEST_DIR}/unit/test_shim_router.c LIBS shimcore)
  cm_add_unit_test(NAME test_shim_request SOURCES ${CM_TEST_DIR}/unit/test_shim_request.c LIBS shimcore)
  cm_add_unit_test(NAME test_shim_config SOURCES ${CM_TEST_DIR}/unit/test_shim_config.c LIBS shimcore)
  cm_add_unit_test(NAME test_shim_auth SOURCES ${CM_TEST_DIR}/unit/test_shim_auth.c LIBS shimcore)
  cm_add_unit_test(NAME test_shim_render SOURCES ${CM_TEST_DIR}/unit/test_shim_render.c LIBS shimcore)
endif()
