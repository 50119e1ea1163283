# Install artefacts (issue 7): CRDs, manifests/, charts/commissaire, Containerfile.
# Static checks need kubectl (kustomize), python3 and chart-render; the kube-lite tests apply
# everything with the real kubectl to kube-lite (tests/integration/lib/kubelite.sh).
find_program(CM_KUBECTL kubectl)
find_program(CM_PYTHON3 python3)
set(_inst ${CM_TEST_DIR}/integration)

add_test(NAME install_chart_crds_identical
         COMMAND bash ${_inst}/install_static.sh crds-identical ${CMAKE_SOURCE_DIR})
add_test(NAME install_containerfile
         COMMAND bash ${_inst}/install_static.sh containerfile ${CMAKE_SOURCE_DIR})
set_tests_properties(install_chart_crds_identical install_containerfile
                     PROPERTIES TIMEOUT 60 LABELS integration)

if(CM_CHART_RENDER AND CM_KUBECTL AND CM_PYTHON3)
  add_test(NAME install_chart_vs_kustomize
           COMMAND bash ${_inst}/install_static.sh chart-vs-kustomize ${CMAKE_SOURCE_DIR}
                   ${CM_CHART_RENDER})
  add_test(NAME install_chart_values
           COMMAND bash ${_inst}/install_static.sh chart-values ${CMAKE_SOURCE_DIR}
                   ${CM_CHART_RENDER})
  set_tests_properties(install_chart_vs_kustomize install_chart_values
                       PROPERTIES TIMEOUT 120 LABELS integration)
endif()

if(TARGET kube-lite AND CM_KUBECTL)
  foreach(mode crds kustomize chart)
    if(mode STREQUAL "chart" AND NOT CM_CHART_RENDER)
      continue()
    endif()
    add_test(NAME install_kubelite_${mode}
             COMMAND bash ${_inst}/install_kubelite.sh ${mode} ${CMAKE_SOURCE_DIR}
                     ${CM_CHART_RENDER})
    set_tests_properties(install_kubelite_${mode} PROPERTIES
                         TIMEOUT 180 LABELS integration
                         ENVIRONMENT "KUBE_LITE=$<TARGET_FILE:kube-lite>")
  endforeach()
endif()
