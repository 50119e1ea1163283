#!/usr/bin/env bash
# Starts the whole system locally: kube-lite, the controller, the REST shim and a small SSH host
# farm, applies the samples, and shows the hosts going active and a rolling restart finishing.
# Stop it with ./hack/down.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
./hack/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" >/dev/null
echo "up: built into $BUILD_DIR/. The local stack will run:"
echo "  kube-lite              Kubernetes API subset (hack/kube-lite)"
echo "  commissaire-controller reconciles Host/Cluster/Operation/Network/ContainerManager"
echo "  commissaire-shim       Commissaire REST API v0 on the custom resources"
echo "  host farm              real OpenSSH sshd per emulated host (hack/hostfarm)"
