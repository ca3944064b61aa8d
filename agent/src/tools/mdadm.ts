/**
 * mdadm and /proc/mdstat: Linux software RAID. Argv builders and pure parsers,
 * written against output captured from the ramdisk's own mdadm 4.2 (Debian
 * 4.2-5) and kernel 6.1 (fixtures/mdadm/, made by test/e2e/capture-mdadm.ts).
 *
 * What the captures taught (the parsers rely on it):
 * - `--homehost=any` does not leave the name bare: the superblock holds
 *   `any:<name>` (MD_NAME=any:root). Names are split into `homehost` and
 *   `name` here; `name` is what --name was.
 * - `--examine --export` prints no metadata version and no device role (only
 *   MD_LEVEL, MD_DEVICES, MD_NAME, MD_ARRAY_SIZE, MD_UUID, MD_UPDATE_TIME,
 *   MD_DEV_UUID, MD_EVENTS); plain `--examine` has both.
 * - Without a superblock `--examine` exits 1 with "No md superblock detected
 *   on <dev>."; on a disk holding only a partition table, `--examine --export`
 *   exits 0 and prints nothing. Both mean "no superblock".
 * - The number in brackets in mdstat (`vdc3[4]`) is the member's descriptor
 *   number, not its slot: it differs from the slot once a member was replaced.
 */

export type MdLevel = '0' | '1' | '5' | '6' | '10';
export type MdMetadata = '1.0' | '1.2';

export interface MdadmCreateOptions {
  /** `/dev/md0`. */
  device: string;
  level: MdLevel;
  /** Stored in the superblock as `<homehost>:<name>`; becomes /dev/md/<name> where udev runs. */
  name: string;
  members: readonly string[];
  /**
   * 1.2 puts the superblock 4 KiB from the start; 1.0 at the end, so that a
   * member of an ESP mirror reads as a plain vfat to firmware.
   */
  metadata: MdMetadata;
  /**
   * `any` (the default) lets any host assemble the array as its own: the
   * deployed OS has another hostname than the ramdisk.
   */
  homehost?: string;
}

/**
 * `--run` answers mdadm's "Continue creating array?" (asked when a member
 * holds a filesystem, a partition table or an old superblock) so it never
 * waits on a terminal. `--force` makes RAID 5 resync all members instead of
 * starting degraded and rebuilding the last one as a spare (mdadm's default),
 * so every level reports the same kind of progress (resync).
 */
export function mdadmCreateArgv(o: MdadmCreateOptions): string[] {
  return [
    'mdadm', '--create', o.device, '--run', '--force', `--metadata=${o.metadata}`, `--homehost=${o.homehost ?? 'any'}`,
    `--name=${o.name}`, `--level=${o.level}`, `--raid-devices=${o.members.length}`, ...o.members,
  ];
}

export function mdadmStopArgv(device: string): string[] {
  return ['mdadm', '--stop', device];
}

export function mdadmZeroSuperblockArgv(device: string): string[] {
  return ['mdadm', '--zero-superblock', device];
}

/** Assembles every array whose members it finds (no mdadm.conf needed: it exits 1 when there is none to assemble). */
export function mdadmAssembleScanArgv(): string[] {
  return ['mdadm', '--assemble', '--scan'];
}

export function mdadmDetailArgv(device: string): string[] {
  return ['mdadm', '--detail', '--export', device];
}

export function mdadmExamineArgv(device: string): string[] {
  return ['mdadm', '--examine', '--export', device];
}

/** Plain `--examine`: the only form that tells the metadata version and the member's role. */
export function mdadmExamineFullArgv(device: string): string[] {
  return ['mdadm', '--examine', device];
}

/** The ARRAY lines an mdadm.conf holds, one per running array. */
export function mdadmDetailScanArgv(): string[] {
  return ['mdadm', '--detail', '--scan'];
}

/** Blocks until the array's resync or recovery ends (exit 1 when there was none to wait for). */
export function mdadmWaitArgv(device: string): string[] {
  return ['mdadm', '--wait', device];
}

/** `any:root` → homehost `any`, name `root`; a name without a colon has no homehost. */
export function splitMdName(stored: string): { homehost: string | null; name: string } {
  const colon = stored.indexOf(':');
  return colon < 0 ? { homehost: null, name: stored } : { homehost: stored.slice(0, colon), name: stored.slice(colon + 1) };
}

// ---------------------------------------------------------------- /proc/mdstat

export interface MdstatMember {
  /** Kernel name: `vda1`. */
  name: string;
  /** The number in brackets: the member's descriptor number (equal to its slot until a member is replaced). */
  role: number;
  /** `(F)`: failed, still listed until removed. */
  faulty: boolean;
  /** `(S)`: a spare, or any member of an inactive array. */
  spare: boolean;
}

export interface MdSync {
  /** The kernel (6.1) prints a repair as `resync`; `repair` is accepted should a kernel print it. */
  action: 'resync' | 'recovery' | 'check' | 'repair' | 'reshape';
  /** `delayed`: waiting for another array on the same disks; `pending`: waiting for the first write (auto-read-only) or a frozen sync. */
  state: 'running' | 'delayed' | 'pending';
  /** 0..100, one decimal. */
  percent: number | null;
  doneKiB: number | null;
  totalKiB: number | null;
  finishMinutes: number | null;
  speedKiBPerSecond: number | null;
}

export interface MdstatArray {
  /** `md0`. */
  name: string;
  active: boolean;
  /** `(read-only)` or `(auto-read-only)`. */
  readOnly: boolean;
  /** `(auto-read-only)`: becomes writable (and resumes a pending resync) on the first write or `mdadm --readwrite`. */
  autoReadOnly: boolean;
  /** The personality, `raid1`; null while inactive. */
  level: string | null;
  members: MdstatMember[];
  /** The array's size (inactive: the members' total). */
  sizeKiB: number | null;
  /** `super 1.2`; null for 0.90 metadata (which mdstat leaves unsaid). */
  superblock: string | null;
  /** `[4/3]`: slots, and members in sync; null where mdstat shows none (RAID 0, inactive). */
  raidDevices: number | null;
  inSyncDevices: number | null;
  sync: MdSync | null;
}

/** The kernel names arrays `md<N>`, or `md_<name>` when made through md_mod's new_array. */
const ARRAY_HEADER = /^(md\d+|md_[\w.-]+) : (.*)$/;
const MEMBER = /^([^\s[\]()]+)\[(\d+)\]((?:\([A-Z]\))*)$/;
const BLOCKS = /^\s+(\d+) blocks\b(.*)$/;
const SYNC_ACTIONS = ['resync', 'recovery', 'check', 'repair', 'reshape'] as const;
const SYNC_RUNNING = /^\s*(?:\[[=>.]*\]\s*)?(resync|recovery|check|repair|reshape)\s*=\s*(.*)$/;
const SYNC_WAITING = /^\s*(resync|recovery|check|repair|reshape)\s*=\s*(DELAYED|PENDING)\s*$/;

/**
 * Parses /proc/mdstat (md_seq_show in drivers/md/md.c). An array is only
 * ever made from a line `mdN : active|inactive ...` whose every member reads
 * `name[n]` with known flags; such a line that does not read that way throws,
 * because missing an array would leave it running under a step that must
 * stop it. Other lines inside an array (bitmap, unknown status) are skipped.
 * Empty text (md not loaded) has no array.
 */
export function parseMdstat(text: string): MdstatArray[] {
  const arrays: MdstatArray[] = [];
  let current: MdstatArray | null = null;
  for (const line of text.split('\n')) {
    const header = ARRAY_HEADER.exec(line);
    if (header) {
      current = parseArrayHeader(header[1] ?? '', header[2] ?? '', line);
      arrays.push(current);
      continue;
    }
    // Array details are indented; anything at the left margin (Personalities, unused devices) ends them.
    if (!/^\s/.test(line)) { current = null; continue; }
    if (!current) continue;
    const blocks = BLOCKS.exec(line);
    if (blocks && current.sizeKiB === null) {
      readBlocksLine(current, Number(blocks[1]), blocks[2] ?? '');
      continue;
    }
    const sync = parseSyncLine(line);
    if (sync) current.sync = sync;
  }
  return arrays;
}

function parseArrayHeader(name: string, rest: string, line: string): MdstatArray {
  const words = rest.trim().split(/\s+/);
  const refuse = (why: string) => new Error(`unexpected /proc/mdstat array line (${why}): ${line}`);
  const state = words.shift();
  if (state !== 'active' && state !== 'inactive') throw refuse('neither active nor inactive');
  let readOnly = false;
  let autoReadOnly = false;
  if (words[0] === '(read-only)' || words[0] === '(auto-read-only)') {
    readOnly = true;
    autoReadOnly = words[0] === '(auto-read-only)';
    words.shift();
  }
  let level: string | null = null;
  if (state === 'active') {
    level = words.shift() ?? null;
    if (level === null || !/^[a-z][a-z0-9]*$/.test(level)) throw refuse('no personality');
  }
  const members = words.map((word) => {
    const match = MEMBER.exec(word);
    if (!match) throw refuse(`member "${word}"`);
    const flags = match[3] ?? '';
    if (/\([^FSWRJ]\)/.test(flags)) throw refuse(`member flags "${flags}"`);
    const role = Number(match[2]);
    if (!Number.isSafeInteger(role)) throw refuse(`member number "${match[2]}"`);
    return { name: match[1] ?? '', role, faulty: flags.includes('(F)'), spare: flags.includes('(S)') };
  });
  return { name, active: state === 'active', readOnly, autoReadOnly, level, members, sizeKiB: null, superblock: null, raidDevices: null, inSyncDevices: null, sync: null };
}

/** `1046528 blocks super 1.2 [2/2] [UU]`, `780288 blocks super 1.2 level 5, 512k chunk, algorithm 2 [4/3] [UU_U]`. */
function readBlocksLine(array: MdstatArray, sizeKiB: number, rest: string): void {
  if (!Number.isSafeInteger(sizeKiB)) return;
  array.sizeKiB = sizeKiB;
  array.superblock = /\bsuper (\S+)/.exec(rest)?.[1] ?? null;
  const devices = /\[(\d+)\/(\d+)\]/.exec(rest);
  const [slots, inSync] = [Number(devices?.[1]), Number(devices?.[2])];
  if (Number.isSafeInteger(slots) && Number.isSafeInteger(inSync)) {
    array.raidDevices = slots;
    array.inSyncDevices = inSync;
  }
}

/**
 * `[===>....]  resync = 16.7% (175360/1046528) finish=0.1min speed=87680K/sec`,
 * `\tresync=DELAYED`, `\tresync=PENDING`. A field that does not read as the
 * kernel prints it (a percent outside 0..100, say) is null, never guessed.
 */
function parseSyncLine(line: string): MdSync | null {
  const waiting = SYNC_WAITING.exec(line);
  if (waiting) {
    return { action: syncAction(waiting[1]), state: waiting[2] === 'DELAYED' ? 'delayed' : 'pending', percent: null, doneKiB: null, totalKiB: null, finishMinutes: null, speedKiBPerSecond: null };
  }
  const running = SYNC_RUNNING.exec(line);
  if (!running) return null;
  const rest = running[2] ?? '';
  const number = (pattern: RegExp, max = Number.MAX_SAFE_INTEGER) => {
    const value = Number(pattern.exec(rest)?.[1] ?? Number.NaN);
    return Number.isFinite(value) && value >= 0 && value <= max ? value : null;
  };
  const progress = /\((\d+)\/(\d+)\)/.exec(rest);
  const done = progress ? Number(progress[1]) : null;
  const total = progress ? Number(progress[2]) : null;
  const sane = done !== null && total !== null && Number.isSafeInteger(done) && Number.isSafeInteger(total);
  return {
    action: syncAction(running[1]),
    state: 'running',
    percent: number(/^(\d{1,3}(?:\.\d+)?)%/, 100),
    doneKiB: sane ? done : null,
    totalKiB: sane ? total : null,
    finishMinutes: number(/\bfinish=(\d+(?:\.\d+)?)min\b/),
    speedKiBPerSecond: number(/\bspeed=(\d+)K\/sec\b/),
  };
}

function syncAction(word: string | undefined): MdSync['action'] {
  return SYNC_ACTIONS.find((action) => action === word) ?? 'resync';
}

// ---------------------------------------------------------- key=value outputs

/** `KEY=value` lines; anything else (there is nothing else in mdadm's export) is skipped. */
function readExport(stdout: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const match = /^([A-Z][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) values.set(match[1] ?? '', match[2] ?? '');
  }
  return values;
}

function requiredCount(value: string | undefined, what: string, source: string): number {
  const count = Number(value);
  if (value === undefined || value === '' || !Number.isSafeInteger(count) || count < 0) throw new Error(`${source} has no valid ${what}: ${JSON.stringify(value ?? null)}`);
  return count;
}

function requiredText(value: string | undefined, what: string, source: string): string {
  if (value === undefined || value.trim() === '') throw new Error(`${source} has no ${what}`);
  return value.trim();
}

// ---------------------------------------------------------- mdadm --detail

export interface MdDetailMember {
  /** `/dev/vda2`. */
  device: string;
  /**
   * The slot (`0`, `1`...) or `spare`. mdadm 4.2 prints `spare` for a failed
   * member still in the array too; mdstat's `(F)` tells them apart.
   */
  role: string;
}

export interface MdDetail {
  /** `raid1`, `raid10`, `raid0`...; null for an inactive array, for which mdadm prints no MD_LEVEL. */
  level: string | null;
  /** MD_DEVICES: the array's slots; for an inactive array, the members mdadm found. */
  raidDevices: number;
  /** `1.2`, `1.0`. */
  metadata: string;
  /** mdadm's form: four colon-separated groups of eight hex digits. */
  uuid: string;
  /** What --name was (`root`), the homehost split off; null when the superblock holds none. */
  name: string | null;
  homehost: string | null;
  /**
   * MD_DEVNAME: the name under /dev/md/ (`root`), printed only where that
   * link exists (udev, or mdadm --assemble/--incremental; not --create /dev/mdN).
   */
  devname: string | null;
  /** As mdadm lists them (last added first); removed slots are absent. */
  members: MdDetailMember[];
}

/**
 * Parses `mdadm --detail --export <md>`. Throws, naming the missing field, on
 * output without a slot count, metadata or UUID (an inactive array has all
 * three, and no level).
 */
export function parseMdadmDetail(stdout: string): MdDetail {
  const values = readExport(stdout);
  const source = 'mdadm --detail --export output';
  const stored = values.get('MD_NAME');
  const split = stored === undefined || stored === '' ? null : splitMdName(stored);
  const members: MdDetailMember[] = [];
  for (const [key, value] of values) {
    const role = /^MD_DEVICE_(.+)_ROLE$/.exec(key);
    if (!role) continue;
    const device = values.get(`MD_DEVICE_${role[1]}_DEV`);
    if (device === undefined || device === '') throw new Error(`${source} gives ${key} but no device for it`);
    members.push({ device, role: value });
  }
  return {
    level: values.get('MD_LEVEL')?.trim() || null,
    raidDevices: requiredCount(values.get('MD_DEVICES'), 'MD_DEVICES', source),
    metadata: requiredText(values.get('MD_METADATA'), 'MD_METADATA', source),
    uuid: requiredText(values.get('MD_UUID'), 'MD_UUID', source),
    name: split?.name ?? null,
    homehost: split?.homehost ?? null,
    devname: values.get('MD_DEVNAME') || null,
    members,
  };
}

// ---------------------------------------------------------- mdadm --examine

export interface MdSuperblock {
  level: string;
  raidDevices: number;
  /** The array's UUID (all members share it). */
  uuid: string;
  /** What --name was, the homehost split off. */
  name: string | null;
  homehost: string | null;
  /** `1.2`, `1.0`; null from `--examine --export`, which does not print it (mdadm 4.2). */
  metadata: string | null;
  /** This member's own UUID. */
  deviceUuid: string | null;
  events: number | null;
  /** `Active device 0` → `0`, or `spare`; only plain `--examine` prints it. */
  role?: string;
}

const NO_SUPERBLOCK = /No md superblock detected on (.+?)\.?\s*$/m;

/**
 * Reads `mdadm --examine --export <dev>` (or plain `--examine`, which adds
 * metadata and role). null exactly when mdadm finds no md superblock: exit 1
 * with "No md superblock detected", or exit 0 with nothing to say (a disk
 * holding only a partition table) or only a partition table's description.
 * Any other failure throws, with what mdadm said about the device.
 */
export function parseMdadmExamine(exitCode: number, stdout: string, stderr: string): MdSuperblock | null {
  if (exitCode !== 0) {
    if (exitCode === 1 && NO_SUPERBLOCK.test(stderr)) return null;
    const said = stderr.trim() || stdout.trim() || '(nothing)';
    throw new Error(`mdadm --examine failed with exit status ${exitCode}: ${said}`);
  }
  if (/^\s*Magic : /m.test(stdout)) return parsePlainExamine(stdout);
  if (/^MD_[A-Z_]+=/m.test(stdout)) return parseExportExamine(stdout);
  // Exit 0 without a superblock: nothing (--export), or "MBR Magic : aa55" and the partitions (plain).
  if (stdout.trim() === '' || /^\s*MBR Magic : /m.test(stdout)) return null;
  throw new Error(`mdadm --examine printed nothing it recognises: ${stdout.trim().slice(0, 200)}`);
}

function parseExportExamine(stdout: string): MdSuperblock {
  const values = readExport(stdout);
  const source = 'mdadm --examine --export output';
  const stored = values.get('MD_NAME');
  const split = stored === undefined || stored === '' ? null : splitMdName(stored);
  const events = Number(values.get('MD_EVENTS'));
  return {
    level: requiredText(values.get('MD_LEVEL'), 'MD_LEVEL', source),
    raidDevices: requiredCount(values.get('MD_DEVICES'), 'MD_DEVICES', source),
    uuid: requiredText(values.get('MD_UUID'), 'MD_UUID', source),
    name: split?.name ?? null,
    homehost: split?.homehost ?? null,
    metadata: null,
    deviceUuid: values.get('MD_DEV_UUID') || null,
    events: values.has('MD_EVENTS') && Number.isSafeInteger(events) ? events : null,
  };
}

/** `   Raid Level : raid1` lines; the first of each key wins. */
function parsePlainExamine(stdout: string): MdSuperblock {
  const fields = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const match = /^\s*([A-Za-z][A-Za-z ]*?) : (.*)$/.exec(line);
    if (match && !fields.has(match[1] ?? '')) fields.set(match[1] ?? '', (match[2] ?? '').trim());
  }
  const source = 'mdadm --examine output';
  const stored = fields.get('Name');
  const split = stored === undefined || stored === '' ? null : splitMdName(stored.replace(/\s+\(local to host .*\)$/, ''));
  const events = Number(fields.get('Events'));
  const roleText = fields.get('Device Role');
  const superblock: MdSuperblock = {
    level: requiredText(fields.get('Raid Level'), 'Raid Level', source),
    raidDevices: requiredCount(fields.get('Raid Devices'), 'Raid Devices', source),
    uuid: requiredText(fields.get('Array UUID') ?? fields.get('UUID'), 'Array UUID', source),
    name: split?.name ?? null,
    homehost: split?.homehost ?? null,
    metadata: requiredText(fields.get('Version'), 'Version', source),
    deviceUuid: fields.get('Device UUID') || null,
    events: fields.has('Events') && Number.isSafeInteger(events) ? events : null,
  };
  if (roleText !== undefined) superblock.role = /^Active device (\d+)$/.exec(roleText)?.[1] ?? roleText.toLowerCase();
  return superblock;
}

// ---------------------------------------------------------- --detail --scan

export interface MdScanArray {
  /** `/dev/md0`, or `/dev/md/root` where mdadm assembled it under its name. */
  device: string;
  metadata: string | null;
  /** What --name was, the homehost split off. */
  name: string | null;
  homehost: string | null;
  uuid: string;
  /** `INACTIVE-ARRAY` lines (an array assembled but not started). */
  active: boolean;
  /** The line(s) as mdadm printed them, continuation lines joined: fit for an mdadm.conf. */
  line: string;
}

/**
 * Parses `mdadm --detail --scan` (and `--examine --scan`): `ARRAY <device>
 * key=value...`, continued on indented lines (`   devices=...`,
 * `   spares=1`). An ARRAY line without a UUID throws: a caller writing an
 * mdadm.conf must not write one that matches any array.
 */
export function parseMdadmDetailScan(stdout: string): MdScanArray[] {
  const arrays: Array<{ head: string; words: string[] }> = [];
  for (const line of stdout.split('\n')) {
    if (/^(?:INACTIVE-)?ARRAY\s/.test(line)) arrays.push({ head: line.trimEnd(), words: line.trim().split(/\s+/) });
    else if (/^\s+\S/.test(line) && arrays.length > 0) {
      const last = arrays[arrays.length - 1]!;
      last.head = `${last.head} ${line.trim()}`;
      last.words.push(...line.trim().split(/\s+/));
    }
  }
  return arrays.map(({ head, words }) => {
    const [keyword, device = ''] = words;
    const options = new Map<string, string>();
    for (const word of words.slice(2)) {
      const equals = word.indexOf('=');
      if (equals > 0) options.set(word.slice(0, equals).toLowerCase(), word.slice(equals + 1));
    }
    const uuid = options.get('uuid');
    if (!uuid || device === '') throw new Error(`mdadm --scan line without a device or UUID: ${head}`);
    const stored = options.get('name');
    const split = stored ? splitMdName(stored) : null;
    return { device, metadata: options.get('metadata') ?? null, name: split?.name ?? null, homehost: split?.homehost ?? null, uuid, active: keyword === 'ARRAY', line: head };
  });
}

// ---------------------------------------------------------- exit statuses

/**
 * `mdadm --zero-superblock`: exit 0 both when it zeroed a superblock and on a
 * device that had none ("Unrecognised md component device", still exit 0 in
 * mdadm 4.2). A member of a running array is refused with exit 2 ("Couldn't
 * open ... for write - not zeroing"): the array must be stopped first.
 */
export function parseMdadmZeroSuperblock(exitCode: number, stderr: string): 'zeroed' | 'none' {
  if (exitCode === 0) return /Unrecognised md component device/i.test(stderr) ? 'none' : 'zeroed';
  const said = stderr.trim() || '(nothing)';
  const hint = /not zeroing/i.test(said) ? ' (is it still a member of a running array? stop the array first)' : '';
  throw new Error(`mdadm --zero-superblock failed with exit status ${exitCode}: ${said}${hint}`);
}

/** `--stop` or `--detail` of an md device node that does not exist: exit 1, "error opening" / "cannot open ... No such file or directory". */
export function isMissingMdDevice(exitCode: number, stderr: string): boolean {
  return exitCode === 1 && /(?:error opening|cannot open) \S+: No such file or directory/.test(stderr);
}
