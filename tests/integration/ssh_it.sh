#!/usr/bin/env bash
# Runs the sshc integration test program against a throwaway sshd (see ssh_lib.sh).
# Usage: ssh_it.sh PATH/TO/ssh_it
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/ssh_lib.sh"
bin=$1
dir=$(mktemp -d)
cleanup() { sshd_stop; rm -rf "$dir"; }
trap cleanup EXIT
sshd_start "$dir"
SSHIT_PORT=$SSHD_PORT SSHIT_DIR=$dir SSHIT_FP=$SSHD_FP SSHIT_LOG=$SSHD_LOG "$bin"
