# Observability tests (issue 7): /metrics of both binaries parse as strict Prometheus text and
# move with work, /healthz and /readyz answer, JSON logs carry no secrets. The parser's own
# self-test proves it rejects malformed expositions (so the other tests can fail).
add_test(NAME metrics_parser_selftest
         COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/integration/metrics_parser_selftest.py)
set_tests_properties(metrics_parser_selftest PROPERTIES TIMEOUT 60 LABELS integration)

# shim_passhash (a bcrypt helper of the shim's tests) is declared by shim.cmake, which is included
# after this file: it is looked up when the build is generated, and the test falls back to
# python3's crypt without it.
if(TARGET commissaire-controller AND TARGET commissaire-shim AND TARGET kube-lite)
  add_test(NAME metrics_endpoints
           COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/metrics_endpoints.sh)
  set_tests_properties(metrics_endpoints PROPERTIES TIMEOUT 420 LABELS integration
    SKIP_RETURN_CODE 77
    ENVIRONMENT "KUBE_LITE=$<TARGET_FILE:kube-lite>;CONTROLLER=$<TARGET_FILE:commissaire-controller>;COMMISSAIRE_SHIM=$<TARGET_FILE:commissaire-shim>;SHIM_PASSHASH=$<$<TARGET_EXISTS:shim_passhash>:$<TARGET_FILE:shim_passhash>>;REPO=${CMAKE_SOURCE_DIR};HOSTFARM_NSINIT=$<$<TARGET_EXISTS:hostfarm-nsinit>:$<TARGET_FILE:hostfarm-nsinit>>;ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()
