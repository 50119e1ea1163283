# Fuzz target of kube-lite's server side: the protobuf body decoder (kl_proto). kl_proto.c is
# compiled into the target (not linked from kubelite_server) so that libFuzzer instruments it.
if(TARGET kubelite_server)
  cm_add_fuzz_target(NAME fuzz_kl_proto
                     SOURCES ${CM_TEST_DIR}/fuzz/fuzz_kl_proto.c ${CM_TEST_DIR}/../hack/kube-lite/kl_proto.c
                     INCLUDES ${CM_TEST_DIR}/../hack/kube-lite
                     LIBS PkgConfig::JANSSON PkgConfig::OPENSSL
                     CORPUS ${CM_TEST_DIR}/fuzz/corpus/kl_proto MAX_LEN 4096)
endif()
