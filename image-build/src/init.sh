#!/bin/sh
# /init of the Ingot ramdisk (busybox sh, PID 1). It mounts the pseudo
# filesystems, starts the agent, loads the modules, brings the network up,
# then tells the agent to go on, and keeps it running. PID 1 stays this
# shell: if the agent crashes it is started again, unless it was rescued
# (then logins on the consoles take its place). The agent reads
# /proc/cmdline itself (IPA's ipa-* parameters).
export PATH=/usr/sbin:/usr/bin
export HOME=/root
umask 022

log() { echo "ingot-init: $*"; }

mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
# Debian's kernel has CONFIG_DEVTMPFS_MOUNT off: /dev is ours to mount.
mount -t devtmpfs -o mode=0755,nosuid devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=000 devpts /dev/pts
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mkdir -p /run/ingot
hostname ingot
log "mounted /proc /sys /dev /run ($(cut -d' ' -f1 /proc/uptime) s since the kernel started)"

# The agent starts first: Node's own start takes seconds under emulation and
# overlaps what follows. It waits for INGOT_INIT_READY before it reads the
# configuration device or looks the node up. Its output goes to the serial
# console and the screen, where they exist.
consoles=""
for tty in /dev/ttyS0 /dev/tty0; do
  (printf '' > "$tty") 2>/dev/null && consoles="$consoles $tty"
done
log "starting the agent ($(cut -d' ' -f1 /proc/uptime) s); output on:${consoles:- /dev/console}"

# Rescue (rescue.finalize_rescue, ipa-protocol.md 4.2): the agent wrote the
# password's crypt hash and /etc/.rescued, stopped its API and heartbeats and
# exited. Here /init does what IPA's DIB rescue element does: it adds the user
# `rescue` with that hash and root's rights, and lets people log in on the
# consoles. The agent is not started again (it would exit at once anyway).
RESCUE_MARKER=/etc/.rescued
RESCUE_PASSWORD=/etc/ipa-rescue-config/ipa-rescue-password

# Busybox has no sudo (IPA's rule is "rescue ALL=(ALL) NOPASSWD: ALL"), so the
# rescue user is uid 0: its own name, password, home and shell, and root's
# rights, which repairing the disks needs (mount, fsck, chroot). Its passwd
# and group lines go BEFORE root's, so from now on uid 0 is called rescue
# (`id -un` says rescue, as on IPA's ramdisk); root's login stays locked.
add_rescue_user() {
  hash=""
  read -r hash 2>/dev/null < "$RESCUE_PASSWORD"
  # A crypt hash ($5$salt$..., $6$rounds=N$salt$...) never holds a colon or a
  # blank; anything else would corrupt /etc/shadow.
  case "$hash" in
    ''|*[!A-Za-z0-9./\$=,-]*)
      log "rescue: $RESCUE_PASSWORD holds no crypt hash: no rescue user, nobody can log in; unrescue the node and rescue it again"
      return 1 ;;
  esac
  # busybox login checks with busybox's own crypt: MD5, SHA-256 and SHA-512
  # (Ironic sends SHA-256 or SHA-512); a yescrypt or bcrypt hash could never match.
  case "$hash" in
    '$1$'*|'$5$'*|'$6$'*) ;;
    *)
      log "rescue: the hash in $RESCUE_PASSWORD is of a kind busybox login cannot check (${hash%"${hash#\$*\$}"}): no rescue user; rescue the node again with a SHA-512 (\$6\$) hash"
      return 1 ;;
  esac
  mkdir -p /home/rescue && chmod 700 /home/rescue
  for entry in 'passwd:rescue:x:0:0:rescue:/home/rescue:/bin/sh' 'group:rescue:x:0:'; do
    file=/etc/${entry%%:*}
    grep -q '^rescue:' "$file" || { { echo "${entry#*:}"; cat "$file"; } > "$file.new" && mv "$file.new" "$file"; }
  done
  grep -q '^rescue:' /etc/shadow || echo "rescue:$hash::0:99999:7:::" >> /etc/shadow
}

# One respawning busybox getty (then login) per console /init writes to. Speed
# 0 keeps the line's speed: the one the kernel's console=ttyS0,N gave it.
start_logins() {
  ttys=""
  for tty in ${consoles:-/dev/console}; do
    name=${tty#/dev/}
    case "$name" in
      # tty0 is whichever virtual terminal is in front: tty1 at boot.
      tty0) name=tty1; set -- 0 "$name" linux ;;
      *) set -- -L 0 "$name" vt100 ;;
    esac
    ttys="$ttys $name"
    # getty makes its own session; its output and login's go to the tty itself.
    ( while true; do getty "$@"; sleep 1; done ) < /dev/null > /dev/console 2>&1 &
  done
  log "rescued: log in as \"rescue\" on the console ($(cut -d' ' -f1 /proc/uptime) s; on:$ttys)"
}

start_rescue() {
  log "the agent exited with status $1 after rescue.finalize_rescue ($RESCUE_MARKER exists); it is not started again"
  add_rescue_user && start_logins
}

run_agent() {
  while true; do
    INGOT_INIT_READY=/run/ingot/init-ready node /opt/ingot/agent.mjs
    status=$?
    # A builtin test: no fork on the normal path.
    if [ -e "$RESCUE_MARKER" ]; then
      start_rescue "$status"
      return
    fi
    log "the agent exited with status $status; starting it again in 2 s"
    sleep 2
  done
}

if [ -n "$consoles" ]; then
  first=${consoles# }; first=${first%% *}; rest=${consoles#* $first}
  run_agent 2>&1 | tee -a $rest > "$first" &
else
  run_agent > /dev/console 2>&1 &
fi

# Modules: the build-time closure in load order (softdeps included: busybox
# modprobe ignores them), in ONE modprobe (one exec per module costs seconds
# under emulation); then coldplug whatever the hardware still asks for (NICs,
# HBAs). What finding disks, network and the configuration device does not
# need (md, dm, loop, efivarfs) loads in the background meanwhile.
modprobe -a $(cat /etc/ingot/modules-early) 2>/dev/null
find /sys/devices -name modalias -exec cat {} + 2>/dev/null | sort -u | xargs modprobe -qa 2>/dev/null
(
  # At the lowest priority (busybox has renice, not nice): raid6_pq benchmarks
  # its algorithms for seconds under emulation, while Node is starting.
  sh -c 'renice -n 19 -p $$ >/dev/null 2>&1; exec modprobe -a "$@"' modprobe $(cat /etc/ingot/modules-late) 2>/dev/null
  if [ -d /sys/firmware/efi/efivars ]; then
    mount -t efivarfs -o nosuid,nodev,noexec efivarfs /sys/firmware/efi/efivars 2>/dev/null
  fi
  log "late modules loaded ($(cut -d' ' -f1 /proc/uptime) s)"
) &
log "modules loaded ($(cut -d' ' -f1 /proc/uptime) s)"

ip link set lo up

# Labels IPA's virtual-media boot uses for the configuration device. Labels
# are case sensitive and mkfs.fat upper-cases labels, so both cases are tried.
CONFIG_LABELS="ir-vfd-dev IR-VFD-DEV config-2 CONFIG-2 vmedia_boot_iso VMEDIA_BOOT_ISO"

# One blkid run probes every block device (one exec per label costs seconds
# under emulation); prints "<device> <label>" of the first match.
find_config_device() {
  blkid -s LABEL 2>/dev/null | {
    while IFS= read -r line; do
      device=${line%%:*}; label=${line#*LABEL=\"}; label=${label%%\"*}
      for wanted in $CONFIG_LABELS; do
        [ "$label" = "$wanted" ] && { echo "$device $label"; exit 0; }
      done
    done
    exit 1
  }
}

# USB mass storage (how BMCs present virtual media) is scanned only after
# usb-storage's delay_use (1 s): where such an interface exists, wait until the
# set of block devices has not changed for 1.5 s (at most 8 s) before deciding
# there is no configuration device. ATA/AHCI CD-ROMs were probed while the
# modules above loaded; machines without USB storage do not wait. The loop
# counts with a glob: no fork but sleep, which matters under emulation.
wait_for_storage() {
  quiet=15
  grep -qs '^08$' /sys/bus/usb/devices/*/bInterfaceClass || return 0
  set -- /sys/class/block/*; last=$#; stable=0; tries=0
  while [ $stable -lt $quiet ] && [ $tries -lt 80 ]; do
    sleep 0.1
    set -- /sys/class/block/*
    if [ $# = $last ]; then stable=$((stable + 1)); else stable=0; last=$#; fi
    tries=$((tries + 1))
  done
}

wait_for_storage
if config=$(find_config_device); then
  # The agent configures the network statically from this device (no DHCP).
  log "configuration device ${config% *} (label ${config#* }): no DHCP, the agent configures the network from it"
  echo "$config" > /run/ingot/config-device
else
  links=""
  for path in /sys/class/net/*; do
    name=${path##*/}
    # type 1 is ARPHRD_ETHER; skip loopback and anything that is not ethernet.
    [ "$name" = lo ] && continue
    [ "$(cat "$path/type" 2>/dev/null)" = 1 ] || continue
    ip link set "$name" up && links="$links $name"
  done
  log "DHCP on:${links:- (no ethernet link found)}"
  for name in $links; do
    udhcpc -f -S -i "$name" -s /etc/ingot/udhcpc.script -t 3 -T 2 -A 3 -x hostname:ingot >/dev/null 2>&1 &
  done
  # The agent does not wait for a lease: its lookup retries until the network
  # is up. The DHCP hook reports each lease on the console.
fi

# Everything before the lookup waits for this file (agent/src/mode.ts).
: > /run/ingot/init-ready
log "network settled ($(cut -d' ' -f1 /proc/uptime) s)"

# PID 1 never exits (that would panic the kernel); waiting also reaps orphans.
while true; do
  wait
  sleep 60
done
