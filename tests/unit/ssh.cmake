# sshc unit tests: pure parts only (no network): fingerprints, batches, the facts parser.
if(TARGET sshc)
  cm_add_unit_test(NAME test_sshc_misc SOURCES ${CM_TEST_DIR}/unit/test_sshc_misc.c LIBS sshc)
  cm_add_unit_test(NAME test_sshc_facts SOURCES ${CM_TEST_DIR}/unit/test_sshc_facts.c LIBS sshc)
endif()
