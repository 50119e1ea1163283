# ssh_lib.sh: a throwaway OpenSSH sshd for the sshc tests (sourced by tests/integration/ssh_*.sh).
#
# sshd_start DIR   generates a host key (ed25519), client keys (ed25519 OpenSSH format and RSA
#                  PEM, both authorised; a third one that is not), starts sshd on 127.0.0.1 on a
#                  free port, and sets SSHD_PORT, SSHD_PID, SSHD_LOG, SSHD_FP (host key
#                  fingerprint "SHA256:...").
# sshd_stop        kills the sshd started by sshd_start (use in a trap).
#
# sshd refuses to run as root without its privilege-separation directory /run/sshd; rather than
# creating it on the machine, sshd gets a private mount namespace with a tmpfs on /run. Only the
# tests' own harmless commands (echo, sleep, reading /proc) and files under DIR are ever used.

sshd_stop() {
  if [[ -n "${SSHD_PID:-}" ]]; then
    kill "$SSHD_PID" 2>/dev/null || true
    wait "$SSHD_PID" 2>/dev/null || true
    SSHD_PID=
  fi
}

_sshd_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

sshd_start() {
  local dir=$1
  ssh-keygen -q -t ed25519 -N '' -C sshc-host -f "$dir/host_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C sshc-client -f "$dir/key_ed25519"
  ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -C sshc-client-rsa -f "$dir/key_rsa_pem"
  ssh-keygen -q -t ed25519 -N '' -C sshc-wrong -f "$dir/key_wrong"
  cat "$dir/key_ed25519.pub" "$dir/key_rsa_pem.pub" >"$dir/authorized_keys"
  SSHD_FP=$(ssh-keygen -l -E sha256 -f "$dir/host_ed25519.pub" | awk '{print $2}')
  SSHD_LOG=$dir/sshd.log
  local attempt
  for attempt in 1 2 3 4 5; do
    SSHD_PORT=$(_sshd_free_port)
    cat >"$dir/sshd_config" <<CONF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
LogLevel VERBOSE
MaxStartups 200:30:400
MaxSessions 100
# root's ~/.bashrc on a dev machine can be slow (bash sources it for sshd); SHLVL=1 makes
# bash skip it, so the tests measure our code, not the rc file.
SetEnv SHLVL=1
CONF
    : >"$SSHD_LOG"
    unshare -m sh -c 'mount -t tmpfs tmpfs /run && mkdir -m 0755 /run/sshd && exec "$0" "$@"' \
      /usr/sbin/sshd -D -e -f "$dir/sshd_config" -E "$SSHD_LOG" &
    SSHD_PID=$!
    local i
    for i in $(seq 1 50); do
      if grep -q "Server listening" "$SSHD_LOG" 2>/dev/null; then
        return 0
      fi
      if ! kill -0 "$SSHD_PID" 2>/dev/null; then
        break
      fi
      sleep 0.1
    done
    sshd_stop
  done
  echo "sshd did not start; log:" >&2
  cat "$SSHD_LOG" >&2
  return 1
}
