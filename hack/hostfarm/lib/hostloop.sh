#!/bin/bash
# Supervisor of the farm hosts: each host's "power supply". Runs outside the namespaces, one
# subshell per host, started in the background by `farm.sh start` (in the caller's process group, so a test
# runner that kills the group takes the farm with it).
#
# Each pass of the loop is one period during which the host is up: it starts the host's namespace
# (hostfarm-nsinit → sshd as PID 1), notes when sshd listens, and waits for the namespace to end. Why it
# ended is read from flag files: a reboot/poweroff request written by the stand-ins inside the host
# (.hostfarm/ctl/request), or unreachable/hang/stop flags written by farm.sh. The supervisor then
# logs the down period and waits — reboot time, or until farm.sh wakes it through the host's FIFO.
# Waiting is a blocking `read` on that FIFO (with a timeout for reboots), so an idle farm costs no
# CPU.
#
# Usage: hostloop.sh DIR [ADDR]
#   Without ADDR: supervises every host of hosts.list — one forked subshell per host (a fork is far
#   cheaper than 200 bash execs), and waits for them so none is left a zombie.
set -uo pipefail
dir=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$here/common.sh"
# shellcheck disable=SC1091
source "$dir/farm.conf"

# host_main ADDR — the supervisor of one host; runs until the farm stops.
host_main() {
  local addr=$1
  H=$dir/hosts/$addr
  R=$H/root
  HF=$R/.hostfarm
  exec 3<>"$H/ctl.fifo"
  exec 4<>"$H/sleep.fifo" # never written: `read -t` on it is a sleep without a fork
  exec 5<>"$H/ready.fifo" # hostfarm-nsinit's readiness reports
  echo "$BASHPID" >"$H/loop.pid"

  status() { printf '%s\n' "$1" >"$H/status.tmp" && mv -f "$H/status.tmp" "$H/status"; }
  rlog() { printf '%s\n' "$1" >>"$dir/reboot.log"; }

  # wait_event SECONDS — returns early when farm.sh writes to the FIFO (stop/reachable/wake).
  wait_event() {
    local w
    if [[ -n ${1:-} ]]; then read -r -t "$1" -u 3 w || true; else read -r -u 3 w || true; fi
  }

  # new_boot — what changes when a machine boots: a new boot id, a staged rpm-ostree deployment
  # becomes the booted one, and exactly the enabled services are running.
  new_boot() {
    local st=$HF/state staged os old
    { hf_uuid; echo; } >"$HF/facts/boot_id"
    if [[ -s $st/ostree.staged ]]; then
      read -r staged <"$st/ostree.staged"
      read -r os <"$st/os_id"
      read -r old <"$st/os_version"
      echo "$old" >"$st/ostree.rollback"
      echo "$staged" >"$st/os_version"
      rm -f "$st/ostree.staged"
      hf_write_os_release "$R" "$os" "$staged"
    fi
    cp "$st/services.enabled" "$st/services.active"
  }

  # run_hang — something accepts TCP connections on the host's address but never speaks SSH: the
  # kernel completes the handshake from the listen backlog, the client times out waiting for the
  # banner.
  run_hang() {
    /usr/bin/python3 -c 'import socket,signal,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind((sys.argv[1],int(sys.argv[2]))); s.listen(1024); open(sys.argv[3],"w").close(); signal.pause()' \
      "$addr" "$FARM_PORT" "$H/hang.ready" &
    local lp=$!
    echo "$lp" >"$H/ns.pid"
    while [[ -e $H/hang && ! -e $H/stop ]]; do wait_event; done
    kill -KILL "$lp" 2>/dev/null
    wait
    rm -f "$H/ns.pid"
  }

  failures=0 # consecutive boots that never listened: back off, then give up until woken
  booted=0 # 0: first boot (no log line); 1: coming back from a down period
  pending_up=0
  while :; do
    [[ -e $H/stop ]] && break
    if [[ -e $H/hang ]]; then status hang; run_hang; continue; fi
    if [[ -e $H/unreachable || -e $H/poweroff ]]; then
      if [[ -e $H/unreachable ]]; then status unreachable; else status poweroff; fi
      wait_event
      [[ -e $H/unreachable || -e $H/poweroff ]] && continue
    fi
    if [[ -e $H/reboot-pending ]]; then
      rm -f "$H/reboot-pending"
      new_boot
    fi

    rm -f "$HF/ctl/sshd.pid" "$HF/ctl/request"
    # The helper reports "up <pid>" on fd 5 once sshd listens (or "fail"); fds 3/4 stay with us.
    "$FARM_NSINIT" "$dir" "$addr" 5 3>&- 4>&- >>"$H/loop.log" 2>&1 &
    nspid=$!
    echo "$nspid" >"$H/ns.pid"
    word= initpid= came_up=0
    read -r -t 120 -u 5 word initpid || true # generous: a loaded machine starts sshd slowly
    if [[ $word == up ]]; then
      echo "$initpid" >"$H/init.pid" # sshd's PID outside: farm.sh enters the host with nsenter
      read -r bid <"$HF/facts/boot_id"
      hf_record "$R" "$addr" event "boot $bid"
      if ((booted || pending_up)); then hf_now; rlog "$HF_NOW $addr up $bid"; fi
      booted=1 pending_up=0 failures=0 came_up=1
      status up
    else
      echo "$(hf_now_ms) host did not come up ($word)" >>"$H/loop.log"
      kill -KILL "$nspid" 2>/dev/null
      failures=$((failures + 1))
    fi
    wait "$nspid"
    # First of all: nobody may read "up" any more once a down period is in the log.
    status down
    rm -f "$H/ns.pid" "$H/init.pid" "$HF/ctl/sshd.pid"
    hf_now; now=$HF_NOW
    read -r old <"$HF/facts/boot_id"

    [[ -e $H/stop ]] && break
    if ((!came_up)); then
      # A boot that failed is no down period of a running host: no log line, just back off.
      if ((failures >= 3)); then
        status failed
        wait_event # broken host: only farm.sh (stop, reachable) gets it going again
        failures=0
      else
        wait_event "$((failures * 2)).5"
      fi
    elif [[ -s $HF/ctl/request ]]; then
      # Written by the reboot stand-in inside the host: "<epoch_ms> reboot|poweroff".
      read -r rts kind <"$HF/ctl/request"
      rm -f "$HF/ctl/request"
      [[ $rts =~ ^[0-9]+$ ]] || rts=$now
      rlog "$rts $addr down $kind $old"
      hf_record "$R" "$addr" event "down $kind"
      touch "$H/reboot-pending"
      pending_up=1
      if [[ $kind == poweroff ]]; then
        touch "$H/poweroff"; status poweroff
      else
        status rebooting
        secs=$FARM_REBOOT_SECONDS
        [[ -s $H/reboot_seconds ]] && read -r secs <"$H/reboot_seconds"
        deadline=$((rts + $(hf_secs_to_ms "$secs")))
        # Sleep until the deadline; farm.sh may wake us early (stop), so re-check.
        while [[ ! -e $H/stop ]]; do
          left=$((deadline - $(hf_now_ms)))
          ((left <= 0)) && break
          wait_event "$((left / 1000)).$(printf '%03d' $((left % 1000)))"
        done
      fi
    elif [[ -e $H/hang ]]; then
      rlog "$now $addr down hang $old"; hf_record "$R" "$addr" event "down hang"; pending_up=1
    elif [[ -e $H/unreachable ]]; then
      rlog "$now $addr down unreachable $old"; hf_record "$R" "$addr" event "down unreachable"
      pending_up=1; status unreachable
    else
      # sshd died on its own (e.g. `kill 1` inside the host): like a crash, the machine restarts.
      rlog "$now $addr down crash $old"; hf_record "$R" "$addr" event "down crash"
      touch "$H/reboot-pending"; pending_up=1; status rebooting
      wait_event 0.5
    fi
  done
  status stopped
  rm -f "$H/loop.pid"
}

if [[ -n ${2:-} ]]; then
  host_main "$2"
else
  while read -r a _; do
    host_main "$a" </dev/null >>"$dir/hosts/$a/loop.log" 2>&1 &
  done <"$dir/hosts.list"
  wait
fi
exit 0
