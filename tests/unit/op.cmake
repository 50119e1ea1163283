# Unit tests of the Operation reconciler's pure parts (planner, spec parsing) and of its task
# pool's bookkeeping (no SSH host needed).
if(TARGET reconcile)
  cm_add_unit_test(NAME test_op_plan SOURCES ${CM_TEST_DIR}/unit/test_op_plan.c LIBS reconcile)
  cm_add_unit_test(NAME test_op_spec SOURCES ${CM_TEST_DIR}/unit/test_op_spec.c LIBS reconcile)
  cm_add_unit_test(NAME test_op_task SOURCES ${CM_TEST_DIR}/unit/test_op_task.c LIBS reconcile)
endif()
