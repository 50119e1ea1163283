# Fuzz target of commissaire-shim: the router and the JSON request decoders.
if(TARGET shimcore)
  cm_add_fuzz_target(NAME fuzz_shim_request SOURCES ${CM_TEST_DIR}/fuzz/fuzz_shim_request.c
                     LIBS shimcore CORPUS ${CM_TEST_DIR}/fuzz/corpus/shim_request MAX_LEN 4096)
endif()
