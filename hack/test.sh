#!/usr/bin/env bash
# The test command: installs what is missing, configures a fresh build directory with
# ASan+UBSan and warnings as errors, builds everything (and once more optimised, for the warnings
# only -O2 finds) and runs every test with ctest.
# Usage: ./hack/test.sh [ctest args...]   (BUILD_DIR overrides build-test/)
set -euo pipefail
cd "$(dirname "$0")/.."

./hack/install-deps.sh

BUILD_DIR=${BUILD_DIR:-build-test}
rm -rf "$BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=address,undefined >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
# The optimiser finds warnings (-Wmaybe-uninitialized, -Wformat-truncation) a Debug build never
# sees, and ./hack/up.sh builds optimised: build that way too, so -Werror breaks here first.
rm -rf "$BUILD_DIR-o2"
cmake -S . -B "$BUILD_DIR-o2" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR-o2" -j"$(nproc)" >/dev/null
rm -rf "$BUILD_DIR-o2"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 600 -j"$(nproc)" "$@"
