#!/usr/bin/env bash
# Runs ssh_farm_it (sshc + hostos profiles) against a six-host farm: fedora, centos, rhel,
# atomic, debian and an unknown OS. Usage: ssh_farm_it.sh PATH/TO/ssh_farm_it
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$1
FARM_SH=$root/hack/hostfarm/farm.sh
if [[ ! -x $FARM_SH ]]; then
  echo "no host farm at $FARM_SH" >&2
  exit 1
fi
FARM_DIR=$(mktemp -d)
cleanup() { "$FARM_SH" stop --dir "$FARM_DIR" >/dev/null 2>&1 || true; rm -rf "$FARM_DIR"; }
trap cleanup EXIT
"$FARM_SH" start --dir "$FARM_DIR" --count 6 --os fedora,centos,rhel,atomic,debian,unknown \
  --reboot-seconds 1
FARM_DIR=$FARM_DIR FARM_SH=$FARM_SH PROFILES_DIR=$root/controller/hostos/profiles "$bin"
