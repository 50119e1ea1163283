cm_add_unit_test(NAME test_cm_buf SOURCES ${CM_TEST_DIR}/unit/test_cm_buf.c LIBS base)
cm_add_unit_test(NAME test_cm_time SOURCES ${CM_TEST_DIR}/unit/test_cm_time.c LIBS base)
cm_add_unit_test(NAME test_cm_backoff SOURCES ${CM_TEST_DIR}/unit/test_cm_backoff.c LIBS base)
cm_add_unit_test(NAME test_cm_json SOURCES ${CM_TEST_DIR}/unit/test_cm_json.c LIBS base)
