/**
 * Captures real mdadm and /proc/mdstat output for the unit tests of
 * agent/src/tools/mdadm.ts (agent/src/tools/fixtures/mdadm/). This host's
 * kernel has no md driver, so the built ramdisk's own kernel boots in QEMU
 * (TCG) with `rdinit=/bin/sh` (a busybox shell on the serial console, no
 * agent, no udev), and its own mdadm builds RAID 0, 1, 5, 6 and 10 arrays on
 * partitions of sparse virtio disks, the way the agent does.
 *
 * The guest script (GUEST_SCRIPT below) travels in, and the captures travel
 * out, as a tar written on a raw "io" disk, not over the serial console: the
 * console would add kernel messages and line discipline to what the tests
 * must read byte for byte. Each capture keeps its stdout, stderr, exit status
 * and command line; `captures.json` in the fixture folder lists them all.
 *
 * Run it (no npm needed; 2 to 4 minutes on two busy cores):
 *   node --conditions=@ingot/source --import tsx test/e2e/capture-mdadm.ts [--out DIR]
 * Needs: the ramdisk in build/ramdisk (`npm run ramdisk -- --compress zstd3`,
 * or INGOT_RAMDISK_DIR pointing at one), qemu-system-x86 and tar on the host.
 * --out defaults to agent/src/tools/fixtures/mdadm; the run also prints the
 * timings (array creation, resync speed) it measured and keeps the guest's
 * console log, dmesg and mdstat samples in a temporary folder it names.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { e2eUnavailable, initrd, kernel, within } from './e2e-support.ts';
import { startVm } from './qemu.ts';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/**
 * Four data disks of different sizes carry the same six partitions (p1 a
 * 550 MiB ESP as the agent lays out for UEFI, p2 1 GiB, p3 to p5 256 MiB,
 * p6 128 MiB); vde stays blank (no superblock); vdf is the io disk.
 */
const DATA_DISKS = [4 * GiB, 4 * GiB, 3 * GiB, 3 * GiB, 1 * GiB];
const IO_DISK_BYTES = 64 * MiB;

/**
 * The guest's half. `run NAME CMD...` keeps one capture: stdin is /dev/null
 * so that a question from mdadm fails the command instead of waiting on the
 * console. Slow syncs (speed_limit_max) keep arrays resyncing long enough to
 * be seen doing it. Names say what each capture shows; the host copies them
 * as they are.
 */
const GUEST_SCRIPT = String.raw`#!/bin/sh
export PATH=/usr/sbin:/usr/bin
C=/tmp/cap
mkdir -p $C
n=0
run() {
  name=$1; shift
  n=$((n+1))
  "$@" < /dev/null > $C/$name.out 2> $C/$name.err
  rc=$?
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$(cut -d' ' -f1 /proc/uptime)" "$*" >> $C/index.tsv
  echo "capture $n: $name exit $rc"
}
note() { echo "$*" >> $C/notes.txt; echo "note: $*"; }
up() { cut -d' ' -f1 /proc/uptime; }
sample() { { echo "--- $1 at $(up) s"; cat /proc/mdstat; } >> $C/mdstat-samples.txt; }
slow() { echo 1000 > /proc/sys/dev/raid/speed_limit_min; echo "$1" > /proc/sys/dev/raid/speed_limit_max; }
fast() { echo 1000 > /proc/sys/dev/raid/speed_limit_min; echo 2000000 > /proc/sys/dev/raid/speed_limit_max; }

modprobe -a md_mod raid0 raid1 raid10 raid456 || note "modprobe failed"
note "kernel $(uname -r); speed_limit_min $(cat /proc/sys/dev/raid/speed_limit_min) max $(cat /proc/sys/dev/raid/speed_limit_max)"
run mdadm-version mdadm --version
run mdstat-no-arrays cat /proc/mdstat

# A disk no array ever touched.
run mdadm-examine-export-blank mdadm --examine --export /dev/vde
run mdadm-examine-blank mdadm --examine /dev/vde
run mdadm-zero-superblock-blank mdadm --zero-superblock /dev/vde
run mdadm-detail-export-not-md mdadm --detail --export /dev/vde
run mdadm-detail-export-missing mdadm --detail --export /dev/md0
run mdadm-stop-missing mdadm --stop /dev/md0

for d in vda vdb vdc vdd; do
  sgdisk --clear --new=1:1MiB:+550MiB --typecode=1:EF00 --new=2:0:+1GiB --typecode=2:FD00 \
    --new=3:0:+256MiB --typecode=3:FD00 --new=4:0:+256MiB --typecode=4:FD00 \
    --new=5:0:+256MiB --typecode=5:FD00 --new=6:0:+128MiB --typecode=6:FD00 /dev/$d > /dev/null || note "sgdisk $d failed"
done
sleep 1
note "partitions: $(ls /dev/vd*)"

# The root volume exactly as the agent creates it, at full speed: how long
# mdadm --create takes and how fast a RAID 1 of two 1 GiB partitions resyncs.
fast
t0=$(up)
run mdadm-create-raid1-root mdadm --create /dev/md0 --run --force --metadata=1.2 --homehost=any --name=root --level=1 --raid-devices=2 /dev/vda2 /dev/vdb2
t1=$(up)
sleep 2
run mdstat-raid1-resync cat /proc/mdstat
run mdadm-detail-export-raid1-resync mdadm --detail --export /dev/md0
run mdadm-detail-raid1-resync mdadm --detail /dev/md0
run ls-dev-md-after-create ls -l /dev/md /dev/md0
while grep -q 'resync' /proc/mdstat; do sample raid1-root; sleep 3; done
t2=$(up)
note "create-raid1-1GiB: mdadm --create from $t0 to $t1 s; resync done by $t2 s"
run mdstat-raid1-clean cat /proc/mdstat
run mdadm-detail-export-raid1-clean mdadm --detail --export /dev/md0
run mdadm-detail-raid1-clean mdadm --detail /dev/md0

# The ESP mirror: metadata 1.0 (superblock at the end, so firmware sees a FAT).
run mdadm-create-raid1-esp mdadm --create /dev/md1 --run --force --metadata=1.0 --homehost=any --name=esp --level=1 --raid-devices=2 /dev/vda1 /dev/vdb1
sleep 1
run mdstat-raid1-esp-resync cat /proc/mdstat
run mdadm-detail-export-raid1-esp-resync mdadm --detail --export /dev/md1
mdadm --wait /dev/md1 > /dev/null 2>&1

# Every level at once, slowly: md resyncs arrays that share a disk one at a
# time, so all but one wait (resync=DELAYED).
slow 2000
run mdadm-create-raid5 mdadm --create /dev/md5 --run --force --metadata=1.2 --homehost=any --name=md5 --level=5 --raid-devices=4 /dev/vda3 /dev/vdb3 /dev/vdc3 /dev/vdd3
run mdadm-create-raid6 mdadm --create /dev/md6 --run --force --metadata=1.2 --homehost=any --name=md6 --level=6 --raid-devices=4 /dev/vda4 /dev/vdb4 /dev/vdc4 /dev/vdd4
run mdadm-create-raid10 mdadm --create /dev/md10 --run --force --metadata=1.2 --homehost=any --name=md10 --level=10 --raid-devices=4 /dev/vda5 /dev/vdb5 /dev/vdc5 /dev/vdd5
run mdadm-create-raid0 mdadm --create /dev/md2 --run --force --metadata=1.2 --homehost=any --name=md2 --level=0 --raid-devices=2 /dev/vdc6 /dev/vdd6
sleep 3
run mdstat-all-levels-resync-delayed cat /proc/mdstat
run mdadm-detail-export-raid5-resync mdadm --detail --export /dev/md5
run mdadm-detail-raid5-resync mdadm --detail /dev/md5
run mdadm-detail-export-raid6-delayed mdadm --detail --export /dev/md6
run mdadm-detail-raid6-delayed mdadm --detail /dev/md6
run mdadm-create-raid1-member-busy mdadm --create /dev/md9 --run --force --metadata=1.2 --homehost=any --name=busy --level=1 --raid-devices=2 /dev/vda2 /dev/vdc2
fast
for md in md5 md6 md10; do mdadm --wait /dev/$md > /dev/null 2>&1; done
run mdstat-all-levels-clean cat /proc/mdstat
for md in md2 md5 md6 md10; do
  run mdadm-detail-export-$md-clean mdadm --detail --export /dev/$md
  run mdadm-detail-$md-clean mdadm --detail /dev/$md
done

# A failed member, then a degraded array, then the member back and recovering.
run mdadm-fail-raid5-member mdadm /dev/md5 --fail /dev/vdc3
run mdstat-raid5-member-failed cat /proc/mdstat
run mdadm-detail-export-raid5-member-failed mdadm --detail --export /dev/md5
run mdadm-remove-raid5-member mdadm /dev/md5 --remove /dev/vdc3
run mdstat-raid5-degraded cat /proc/mdstat
run mdadm-detail-export-raid5-degraded mdadm --detail --export /dev/md5
run mdadm-detail-raid5-degraded mdadm --detail /dev/md5
slow 1000
run mdadm-add-raid5-member mdadm /dev/md5 --add /dev/vdc3
sleep 3
run mdstat-raid5-recovery cat /proc/mdstat
run mdadm-detail-export-raid5-recovery mdadm --detail --export /dev/md5
run mdadm-detail-raid5-recovery mdadm --detail /dev/md5
fast
mdadm --wait /dev/md5 > /dev/null 2>&1
mdadm /dev/md0 --fail /dev/vdb2 > /dev/null 2>&1
mdadm /dev/md0 --remove /dev/vdb2 > /dev/null 2>&1
run mdstat-raid1-degraded cat /proc/mdstat
run mdadm-detail-export-raid1-degraded mdadm --detail --export /dev/md0
run mdadm-detail-raid1-degraded mdadm --detail /dev/md0
# A third partition takes the removed one's place (recovery), and the
# removed one comes back as a spare.
slow 1000
mdadm /dev/md0 --add /dev/vdc2 > /dev/null 2>&1
sleep 2
mdadm /dev/md0 --add /dev/vdb2 > /dev/null 2>&1
sleep 2
run mdstat-raid1-recovery-with-spare cat /proc/mdstat
fast
mdadm --wait /dev/md0 > /dev/null 2>&1

# A scrub: check, as sync_action starts it.
slow 1000
echo check > /sys/block/md10/md/sync_action
sleep 3
run mdstat-raid10-check cat /proc/mdstat
echo idle > /sys/block/md10/md/sync_action
echo repair > /sys/block/md6/md/sync_action
sleep 3
run mdstat-raid6-repair cat /proc/mdstat
echo idle > /sys/block/md6/md/sync_action
fast
sleep 1

# Superblocks as the members carry them.
run mdadm-examine-export-member-1.2 mdadm --examine --export /dev/vda2
run mdadm-examine-member-1.2 mdadm --examine /dev/vda2
run mdadm-examine-export-member-1.0 mdadm --examine --export /dev/vda1
run mdadm-examine-member-1.0 mdadm --examine /dev/vda1
run mdadm-examine-export-raid5-member mdadm --examine --export /dev/vdd3
run mdadm-examine-export-spare mdadm --examine --export /dev/vdb2
run mdadm-examine-export-gpt-disk mdadm --examine --export /dev/vda
run mdadm-examine-gpt-disk mdadm --examine /dev/vda
run mdadm-examine-scan mdadm --examine --scan
run mdadm-detail-scan mdadm --detail --scan
run mdadm-detail-scan-verbose mdadm --detail --scan --verbose
run mdadm-zero-superblock-active-member mdadm --zero-superblock /dev/vda2

# Stopped, then assembled again with no mdadm.conf (the ramdisk has none).
run ls-dev-md-before-stop ls -l /dev/md
for md in md0 md1 md2 md5 md6 md10; do run mdadm-stop-$md mdadm --stop /dev/$md; done
run mdstat-all-stopped cat /proc/mdstat
run ls-dev-md-after-stop ls -l /dev/md
run mdadm-assemble-scan mdadm --assemble --scan
run mdstat-after-assemble-scan cat /proc/mdstat
run ls-dev-md-after-assemble-scan ls -l /dev/md
run mdadm-detail-scan-after-assemble-scan mdadm --detail --scan
run mdadm-detail-export-after-assemble-scan mdadm --detail --export /dev/md/root
run mdadm-assemble-scan-again mdadm --assemble --scan
for md in $(awk '/^md/ {print $1}' /proc/mdstat); do mdadm --stop /dev/$md > /dev/null 2>&1; done

# Too few members: --assemble refuses to leave the array half-made;
# --incremental (what udev runs as disks appear) keeps it inactive.
run mdadm-assemble-raid5-two-of-four mdadm --assemble /dev/md5 /dev/vda3 /dev/vdb3
run mdstat-after-assemble-two-of-four cat /proc/mdstat
run mdadm-incremental-raid5-first mdadm --incremental /dev/vda3
run mdadm-incremental-raid5-second mdadm --incremental /dev/vdb3
run mdstat-raid5-inactive cat /proc/mdstat
run ls-dev-md-incremental ls -l /dev/md
run mdadm-detail-scan-inactive mdadm --detail --scan
inactive=/dev/$(awk '/^md/ {print $1; exit}' /proc/mdstat)
run mdadm-detail-export-raid5-inactive mdadm --detail --export $inactive
run mdadm-detail-raid5-inactive mdadm --detail $inactive
run mdadm-stop-raid5-inactive mdadm --stop $inactive
run mdadm-zero-superblock-member mdadm --zero-superblock /dev/vda3
run mdadm-examine-export-zeroed mdadm --examine --export /dev/vda3
run mdadm-examine-zeroed mdadm --examine /dev/vda3

# An array stopped in the middle of its resync, assembled again with md_mod
# start_ro=1 (as some initramfs set it): auto-read-only, and the resync
# waits for the first write (resync=PENDING); --readwrite resumes it.
mdadm --zero-superblock /dev/vdc4 /dev/vdd4 > /dev/null 2>&1
slow 1000
run mdadm-create-raid1-pending mdadm --create /dev/md3 --run --force --metadata=1.2 --homehost=any --name=pending --level=1 --raid-devices=2 /dev/vdc4 /dev/vdd4
sleep 3
run mdadm-stop-resyncing mdadm --stop /dev/md3
echo 1 > /sys/module/md_mod/parameters/start_ro
run mdadm-assemble-start-ro mdadm --assemble /dev/md3 /dev/vdc4 /dev/vdd4
sleep 1
run mdstat-raid1-auto-read-only-resync-pending cat /proc/mdstat
run mdadm-detail-export-raid1-resync-pending mdadm --detail --export /dev/md3
run mdadm-detail-raid1-resync-pending mdadm --detail /dev/md3
echo 0 > /sys/module/md_mod/parameters/start_ro
run mdadm-readwrite mdadm --readwrite /dev/md3
sleep 2
run mdstat-raid1-resync-resumed cat /proc/mdstat
fast
mdadm --wait /dev/md3 > /dev/null 2>&1
run mdadm-readonly mdadm --readonly /dev/md3
run mdstat-raid1-read-only cat /proc/mdstat
mdadm --stop /dev/md3 > /dev/null 2>&1
run mdstat-no-arrays-at-end cat /proc/mdstat

dmesg > $C/dmesg.txt
note "done at $(up) s"
tar -cf /dev/vdf -C $C . && sync && echo "capture-mdadm: all captured"
poweroff -f
`;

interface Capture {
  name: string;
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string | null;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  const out = resolve(values.out ?? join(root, 'agent/src/tools/fixtures/mdadm'));
  const missing = e2eUnavailable(['tar']);
  if (missing) throw new Error(`cannot capture: ${missing}`);

  const work = mkdtempSync(join(tmpdir(), 'ingot-capture-mdadm-'));
  const disks = DATA_DISKS.map((bytes, index) => {
    const path = join(work, `disk${index}.img`);
    closeSync(openSync(path, 'w'));
    execFileSync('truncate', ['-s', String(bytes), path]);
    return path;
  });
  const script = join(work, 'in');
  mkdirSync(script);
  writeFileSync(join(script, 'capture.sh'), GUEST_SCRIPT, { mode: 0o755 });
  const io = join(work, 'io.img');
  execFileSync('tar', ['-cf', io, '-C', script, 'capture.sh']);
  execFileSync('truncate', ['-s', String(IO_DISK_BYTES), io]);

  const vm = await startVm({
    kernel, initrd, append: 'rdinit=/bin/sh panic=-1', mac: '52:54:00:12:34:77', memoryMiB: 1024,
    disks: [...disks, io].map((path) => ({ path, bus: 'virtio' as const })), consoleLog: join(work, 'console.log'),
  });
  try {
    const prompt = await within('the shell prompt', 180_000, vm.waitForSerial(/job control turned off\n[^\n]*# /, 180_000), vm);
    // /init is not run: the virtio modules it would load are loaded here.
    await vm.writeSerial('export PATH=/usr/sbin:/usr/bin; mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev; '
      + 'modprobe -a virtio_pci virtio_blk; for i in $(seq 100); do [ -b /dev/vdf ] && break; sleep 0.1; done; '
      + 'mkdir -p /tmp; tar -xf /dev/vdf -C /tmp && sh /tmp/capture.sh || echo capture-mdadm: fail""ed\n');
    // (the quotes keep the echo of the typed line from matching the marker)
    const done = await within('the guest to capture everything', 1_200_000, vm.waitForSerial(/capture-mdadm: (all captured|failed)/, 1_200_000, prompt.end), vm);
    if (done.text.endsWith('failed')) throw new Error(`the guest script failed; console: ${vm.consoleLog}`);
    await within('the guest to power off', 60_000, vm.exited, vm);
  } finally {
    await vm.stop();
  }

  const result = join(work, 'out');
  mkdirSync(result);
  execFileSync('tar', ['-xf', io, '-C', result]);
  const captures: Capture[] = readFileSync(join(result, 'index.tsv'), 'utf8').trimEnd().split('\n').map((line) => {
    const [name = '', exitCode = '', , command = ''] = line.split('\t');
    return { name, command, exitCode: Number(exitCode), stdout: `${name}.txt`, stderr: null };
  });
  mkdirSync(out, { recursive: true });
  for (const old of readdirSync(out)) if (old.endsWith('.txt') || old === 'captures.json') rmSync(join(out, old));
  for (const capture of captures) {
    writeFileSync(join(out, capture.stdout), readFileSync(join(result, `${capture.name}.out`)));
    const stderr = readFileSync(join(result, `${capture.name}.err`));
    if (stderr.length > 0) {
      capture.stderr = `${capture.name}.stderr.txt`;
      writeFileSync(join(out, capture.stderr), stderr);
    }
  }
  writeFileSync(join(out, 'captures.json'), `${JSON.stringify(captures, null, 2)}\n`);
  process.stdout.write(`${captures.length} captures written to ${out}\n`);
  process.stdout.write(readFileSync(join(result, 'notes.txt'), 'utf8'));
  process.stdout.write(`guest console, dmesg and mdstat samples: ${work} (console.log, out/)\n`);
  for (const disk of [...disks, io]) if (existsSync(disk)) rmSync(disk);
}

main().catch((error: unknown) => {
  process.stderr.write(`capture-mdadm: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
