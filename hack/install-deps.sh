#!/usr/bin/env bash
# Installs, with apt-get, exactly the Debian packages commissaire needs to build, test and run
# locally. Idempotent: quiet and quick when everything is already present.
set -euo pipefail

PACKAGES=(
  # toolchain
  gcc clang make cmake pkg-config libclang-rt-14-dev
  # libraries (headers + pkg-config files)
  libcurl4-openssl-dev libjansson-dev libyaml-dev libssh-dev libssl-dev libwebsockets-dev
  libcmocka-dev libcrypt-dev
  # the SSH host farm: real OpenSSH server and client, network tools, namespaces
  openssh-server openssh-client iproute2 util-linux procps
  # tests and tools: TLS material, HTTP client, Helm chart rendering (Go text/template + sprig)
  openssl curl golang-go golang-github-masterminds-sprig-dev
  # kube-lite tests (JSON assertions) and benchmark (HTTP load generator)
  jq wrk
  # CRD lint and offline schema checks (tests/unit/crds_lint.py)
  python3 python3-yaml
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (sudo $0) to install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
