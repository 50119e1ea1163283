# Helpers shared by farm.sh and the per-host supervisor (hostloop.sh). Sourced, never executed.
# Runs OUTSIDE the hosts' namespaces: these functions write a host's files from the farm side.

hf_now_ms() { # milliseconds since the epoch, without forking `date`
  local us=${EPOCHREALTIME//[!0-9]/}
  printf '%s' "${us:0:${#us}-3}"
}

hf_now() { # sets HF_NOW to milliseconds since the epoch (no subshell: used on hot paths)
  local us=${EPOCHREALTIME//[!0-9]/}
  HF_NOW=${us:0:${#us}-3}
}

hf_uuid() { # a fresh random UUID (the kernel makes one for us)
  local u
  read -r u </proc/sys/kernel/random/uuid
  printf '%s' "$u"
}

# hf_os_defaults NAME → sets HF_OS_VERSION HF_OS_KERNEL (the defaults of the emulated OS).
hf_os_defaults() {
  case $1 in
    fedora) HF_OS_VERSION=38; HF_OS_KERNEL=6.2.9-300.fc38.x86_64 ;;
    centos) HF_OS_VERSION=7; HF_OS_KERNEL=3.10.0-1160.el7.x86_64 ;;
    rhel) HF_OS_VERSION=7.9; HF_OS_KERNEL=3.10.0-1160.el7.x86_64 ;;
    atomic) HF_OS_VERSION=29.20191126.0; HF_OS_KERNEL=5.3.11-100.fc29.x86_64 ;;
    debian) HF_OS_VERSION=12; HF_OS_KERNEL=6.1.0-13-amd64 ;;
    unknown) HF_OS_VERSION=15.0; HF_OS_KERNEL=5.15.19 ;;
    *) return 1 ;;
  esac
}

cp_rel() { local t; IFS= read -r -d '' t <"$1/etc/$2" || true; printf '%s' "$t" >"$1/etc/$3"; }

# hf_write_os_release ROOT OS VERSION — writes /etc/os-release and the distro's own release
# files the way the real distributions ship them, so a controller reading either is served.
hf_write_os_release() {
  local r=$1 os=$2 v=$3 major=${3%%.*}
  local f _t
  for f in redhat-release centos-release fedora-release system-release debian_version; do
    [[ -e $r/etc/$f || -L $r/etc/$f ]] && rm -f "$r/etc/$f"
  done
  case $os in
    fedora)
      IFS= read -r -d '' _t <<EOF || true
NAME="Fedora Linux"
VERSION="$v (Server Edition)"
ID=fedora
VERSION_ID=$v
PRETTY_NAME="Fedora Linux $v (Server Edition)"
CPE_NAME="cpe:/o:fedoraproject:fedora:$v"
VARIANT="Server Edition"
VARIANT_ID=server
EOF
      printf '%s' "$_t" >"$r/etc/os-release"
      echo "Fedora release $v" >"$r/etc/fedora-release"
      cp_rel "$r" fedora-release redhat-release; cp_rel "$r" fedora-release system-release ;;
    centos)
      IFS= read -r -d '' _t <<EOF || true
NAME="CentOS Linux"
VERSION="$v (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="$v"
PRETTY_NAME="CentOS Linux $v (Core)"
CPE_NAME="cpe:/o:centos:centos:$major"
EOF
      printf '%s' "$_t" >"$r/etc/os-release"
      echo "CentOS Linux release $v (Core)" >"$r/etc/centos-release"
      cp_rel "$r" centos-release redhat-release; cp_rel "$r" centos-release system-release ;;
    rhel)
      IFS= read -r -d '' _t <<EOF || true
NAME="Red Hat Enterprise Linux Server"
VERSION="$v (Maipo)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="$v"
PRETTY_NAME="Red Hat Enterprise Linux Server $v (Maipo)"
CPE_NAME="cpe:/o:redhat:enterprise_linux:$v:GA:server"
EOF
      printf '%s' "$_t" >"$r/etc/os-release"
      echo "Red Hat Enterprise Linux Server release $v (Maipo)" >"$r/etc/redhat-release"
      cp_rel "$r" redhat-release system-release ;;
    atomic)
      IFS= read -r -d '' _t <<EOF || true
NAME=Fedora
VERSION="$v (Atomic Host)"
ID=fedora
VERSION_ID=$major
PRETTY_NAME="Fedora $v (Atomic Host)"
VARIANT="Atomic Host"
VARIANT_ID=atomic.host
OSTREE_VERSION='$v'
EOF
      printf '%s' "$_t" >"$r/etc/os-release"
      echo "Fedora release $major (Twenty Nine)" >"$r/etc/fedora-release"
      cp_rel "$r" fedora-release redhat-release; cp_rel "$r" fedora-release system-release ;;
    debian)
      IFS= read -r -d '' _t <<EOF || true
PRETTY_NAME="Debian GNU/Linux $major (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="$v"
VERSION="$major (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
EOF
      printf '%s' "$_t" >"$r/etc/os-release"
      echo "$v" >"$r/etc/debian_version" ;;
    unknown)
      IFS= read -r -d '' _t <<EOF || true
NAME=Slackware
VERSION="$v"
ID=slackware
VERSION_ID=$v
PRETTY_NAME="Slackware $v"
EOF
      printf '%s' "$_t" >"$r/etc/os-release"
      ;;
    *) return 1 ;;
  esac
}

# hf_default_packages OS — packages a fresh install of that OS already has.
hf_default_packages() {
  case $1 in
    fedora) printf '%s\n' bash coreutils dnf fedora-release kernel openssh-server rpm systemd ;;
    centos) printf '%s\n' bash centos-release coreutils kernel openssh-server rpm systemd yum ;;
    rhel) printf '%s\n' bash coreutils kernel openssh-server redhat-release rpm systemd yum ;;
    # Atomic Host ships the container stack in the tree: nothing to install there.
    atomic) printf '%s\n' bash coreutils docker etcd flannel kernel kubernetes-node openssh-server \
      rpm rpm-ostree systemd ;;
    debian) printf '%s\n' apt base-files bash coreutils dpkg linux-image-amd64 openssh-server systemd ;;
    unknown) printf '%s\n' bash coreutils ;;
  esac
}

# hf_write_cpuinfo FACTSDIR — regenerates cpuinfo/cpu_online from facts/cpus, in place (the files
# are bind-mounted into the host's /proc and /sys: replacing them by rename would not show).
hf_write_cpu_files() {
  local f=$1 n i
  read -r n <"$f/cpus"
  {
    for ((i = 0; i < n; i++)); do
      printf 'processor\t: %d\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n' "$i"
      printf 'model name\t: Intel(R) Xeon(R) Farm CPU @ 2.00GHz\nstepping\t: 7\n'
      printf 'cpu MHz\t\t: 2000.000\ncache size\t: 16384 KB\nphysical id\t: 0\nsiblings\t: %d\n' "$n"
      printf 'core id\t\t: %d\ncpu cores\t: %d\napicid\t\t: %d\n' "$i" "$n" "$i"
      printf 'flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov lm\n'
      printf 'bogomips\t: 4000.00\naddress sizes\t: 46 bits physical, 48 bits virtual\n\n'
    done
  } >"$f/cpuinfo"
  if ((n > 1)); then echo "0-$((n - 1))" >"$f/cpu_online"; else echo 0 >"$f/cpu_online"; fi
}

hf_write_meminfo() {
  local f=$1 m _t k
  local -A M
  read -r m <"$f/memory"
  # The values right-aligned in 8 columns like the kernel's, built without subshells.
  printf -v M[m] '%8d' "$m"
  for k in 2 4 8 64 128 256; do printf -v "M[d$k]" '%8d' $((m / k)); done
  printf -v M[q3] '%8d' $((m * 3 / 4))
  IFS= read -r -d '' _t <<EOF || true
MemTotal:       ${M[m]} kB
MemFree:        ${M[d2]} kB
MemAvailable:   ${M[q3]} kB
Buffers:        ${M[d64]} kB
Cached:         ${M[d8]} kB
SwapCached:            0 kB
Active:         ${M[d4]} kB
Inactive:       ${M[d8]} kB
Shmem:          ${M[d256]} kB
SwapTotal:             0 kB
SwapFree:              0 kB
Dirty:                 0 kB
Slab:           ${M[d64]} kB
SReclaimable:   ${M[d128]} kB
SUnreclaim:     ${M[d128]} kB
HugePages_Total:       0
HugePages_Free:        0
Hugepagesize:       2048 kB
EOF
  printf '%s' "$_t" >"$f/meminfo"
}

# hf_record HOSTROOT ADDR KIND PAYLOAD — appends one record line (a single write: O_APPEND keeps
# lines whole even when the host's own processes write at the same time).
hf_record() {
  local line
  hf_now
  line="$HF_NOW $2 $3 $4"
  printf '%s\n' "$line" >>"$1/.hostfarm/records.log"
}

# hf_fifo_send FIFO WORD — wakes a host supervisor. Opening read-write never blocks, even if the
# supervisor is gone (the word is then simply lost with the pipe).
hf_fifo_send() {
  [[ -p $1 ]] || return 0
  printf '%s\n' "$2" 1<>"$1"
}

hf_secs_to_ms() { # "2" → 2000, "0.5" → 500, "1.25" → 1250
  local s=$1 i f=0
  i=${s%%.*}
  [[ $s == *.* ]] && f=${s#*.}
  f=${f}000
  printf '%s' $((10#${i:-0} * 1000 + 10#${f:0:3}))
}
