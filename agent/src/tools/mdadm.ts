/** mdadm argv builders and output parsers (a first cut; the fixtures captured in QEMU and their tests follow). */
export type MdLevel = '0' | '1' | '5' | '6' | '10';
export function mdadmCreateArgv(o: { device: string; level: MdLevel; name: string; members: readonly string[]; metadata: '1.0' | '1.2'; homehost?: string }): string[] {
  return ['mdadm', '--create', o.device, '--run', '--force', `--metadata=${o.metadata}`, `--homehost=${o.homehost ?? 'any'}`, `--name=${o.name}`, `--level=${o.level}`, `--raid-devices=${o.members.length}`, ...o.members];
}
export const mdadmStopArgv = (device: string) => ['mdadm', '--stop', device];
export const mdadmZeroSuperblockArgv = (device: string) => ['mdadm', '--zero-superblock', device];
export const mdadmAssembleScanArgv = () => ['mdadm', '--assemble', '--scan'];
export const mdadmDetailArgv = (device: string) => ['mdadm', '--detail', '--export', device];
export const mdadmExamineArgv = (device: string) => ['mdadm', '--examine', '--export', device];
export const mdadmDetailScanArgv = () => ['mdadm', '--detail', '--scan'];
export interface MdSync { action: 'resync' | 'recovery' | 'check' | 'repair' | 'reshape'; state: 'running' | 'delayed' | 'pending'; percent: number | null; doneKiB: number | null; totalKiB: number | null; finishMinutes: number | null; speedKiBPerSecond: number | null }
export interface MdstatArray { name: string; active: boolean; readOnly: boolean; level: string | null; members: { name: string; role: number; faulty: boolean; spare: boolean }[]; sizeKiB: number | null; sync: MdSync | null }
export function parseMdstat(text: string): MdstatArray[] {
  const arrays: MdstatArray[] = [];
  let current: MdstatArray | undefined;
  for (const line of text.split('\n')) {
    const head = /^(md\w+) : (active|inactive)(?: \((read-only|auto-read-only)\))? ?(raid\d+|linear)? ?(.*)$/.exec(line);
    if (head) {
      const members = [...head[5]!.matchAll(/(\S+)\[(\d+)\](\([FS]\))?/g)].map((m) => ({ name: m[1]!, role: Number(m[2]), faulty: m[3] === '(F)', spare: m[3] === '(S)' }));
      current = { name: head[1]!, active: head[2] === 'active', readOnly: head[3] !== undefined, level: head[4] ?? null, members, sizeKiB: null, sync: null };
      arrays.push(current);
      continue;
    }
    if (!current) continue;
    const blocks = /^\s+(\d+) blocks/.exec(line);
    if (blocks) current.sizeKiB = Number(blocks[1]);
    const sync = /(resync|recovery|check|repair|reshape)\s*=\s*([\d.]+)% \((\d+)\/(\d+)\) finish=([\d.]+)min speed=(\d+)K\/sec/.exec(line);
    if (sync) current.sync = { action: sync[1] as MdSync['action'], state: 'running', percent: Number(sync[2]), doneKiB: Number(sync[3]), totalKiB: Number(sync[4]), finishMinutes: Number(sync[5]), speedKiBPerSecond: Number(sync[6]) };
    const waiting = /(resync|recovery|check|repair|reshape)\s*=\s*(DELAYED|PENDING)/.exec(line);
    if (waiting) current.sync = { action: waiting[1] as MdSync['action'], state: waiting[2] === 'DELAYED' ? 'delayed' : 'pending', percent: null, doneKiB: null, totalKiB: null, finishMinutes: null, speedKiBPerSecond: null };
    if (line.trim() === '') current = undefined;
  }
  return arrays;
}
export interface MdDetail { level: string; raidDevices: number; metadata: string; uuid: string; name: string | null; members: { device: string; role: string }[] }
function exportVars(stdout: string): Map<string, string> {
  return new Map(stdout.split('\n').map((l) => /^([A-Z0-9_]+)=(.*)$/.exec(l.trim())).filter((m) => m !== null).map((m) => [m![1]!, m![2]!]));
}
export function parseMdadmDetail(stdout: string): MdDetail {
  const v = exportVars(stdout);
  const members: MdDetail['members'] = [];
  for (const [key, value] of v) {
    const m = /^MD_DEVICE_(.+)_ROLE$/.exec(key);
    if (m) members.push({ device: v.get(`MD_DEVICE_${m[1]}_DEV`) ?? m[1]!, role: value });
  }
  return { level: v.get('MD_LEVEL') ?? '', raidDevices: Number(v.get('MD_DEVICES') ?? 0), metadata: v.get('MD_METADATA') ?? '', uuid: v.get('MD_UUID') ?? '', name: v.get('MD_NAME') ?? null, members };
}
export interface MdSuperblock { level: string; raidDevices: number; uuid: string; name: string | null; metadata: string }
export function parseMdadmExamine(exitCode: number, stdout: string, stderr: string): MdSuperblock | null {
  if (exitCode !== 0) {
    if (/No md superblock detected/i.test(stderr + stdout)) return null;
    throw new Error(`mdadm --examine exited with ${exitCode}: ${stderr.trim()}`);
  }
  const v = exportVars(stdout);
  if (!v.has('MD_UUID')) return null;
  return { level: v.get('MD_LEVEL') ?? '', raidDevices: Number(v.get('MD_DEVICES') ?? 0), uuid: v.get('MD_UUID')!, name: v.get('MD_NAME') ?? null, metadata: v.get('MD_METADATA') ?? '' };
}
export function parseMdadmDetailScan(stdout: string): { device: string; metadata: string | null; name: string | null; uuid: string }[] {
  return stdout.split('\n').filter((l) => l.startsWith('ARRAY ')).map((l) => {
    const parts = l.split(/\s+/);
    const field = (k: string) => parts.find((p) => p.startsWith(`${k}=`))?.slice(k.length + 1) ?? null;
    return { device: parts[1]!, metadata: field('metadata'), name: field('name'), uuid: field('UUID') ?? '' };
  });
}
