# hostos unit tests: template rendering, profile loading (shipped profiles included), matching.
if(TARGET hostos)
  cm_add_unit_test(NAME test_hostos_template SOURCES ${CM_TEST_DIR}/unit/test_hostos_template.c
                   LIBS hostos)
  cm_add_unit_test(NAME test_hostos_profiles SOURCES ${CM_TEST_DIR}/unit/test_hostos_profiles.c
                   LIBS hostos)
  target_compile_definitions(test_hostos_profiles PRIVATE
                             HOSTOS_PROFILES_DIR="${HOSTOS_PROFILES_SOURCE_DIR}")
endif()
