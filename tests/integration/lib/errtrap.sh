# errtrap.sh: makes a `set -e` exit say where it happened (sourced by the harness libraries).
# Without it a failing command substitution ends a test with no output at all, which is what
# ctest then shows for the failure.
trap '_et_rc=$?; echo "${BASH_SOURCE[0]##*/}:$LINENO: \`$BASH_COMMAND\` exited $_et_rc" >&2' ERR
