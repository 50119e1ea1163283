# CRD checks that need no API server: the structural-schema lint (with its own mutation
# self-test) and the good/bad object cases validated offline. The same cases run against
# kube-lite in tests/integration/install.cmake.
find_program(CM_PYTHON3 python3)
if(CM_PYTHON3)
  add_test(NAME crds_lint
           COMMAND ${CM_PYTHON3} ${CM_TEST_DIR}/unit/crds_lint.py ${CMAKE_SOURCE_DIR}/crds)
  add_test(NAME crds_lint_selftest
           COMMAND ${CM_PYTHON3} ${CM_TEST_DIR}/unit/crds_lint.py ${CMAKE_SOURCE_DIR}/crds
                   --self-test)
  add_test(NAME crds_cases
           COMMAND bash ${CM_TEST_DIR}/unit/crds_cases.sh ${CMAKE_SOURCE_DIR})
  set_tests_properties(crds_lint crds_lint_selftest crds_cases
                       PROPERTIES TIMEOUT 120 LABELS unit)
else()
  message(STATUS "python3 not found: CRD lint tests not added")
endif()
