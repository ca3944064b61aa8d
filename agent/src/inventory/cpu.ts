import type { CpuInfo } from './inventory.ts';

/** JSON output; util-linux 2.37+ may nest fields under `children`, which the parser flattens. */
export const lscpuArgv = ['lscpu', '-J'] as const;

interface LscpuField {
  field?: unknown;
  data?: unknown;
  children?: unknown;
}

/** `{ "model name": "AMD EPYC", "cpu(s)": "2", ... }`: keys lowercased without the trailing colon; the first occurrence wins. */
export function parseLscpuFields(json: string): Map<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new Error(`lscpu -J printed something that is not JSON: ${json.slice(0, 80)}`, { cause: error });
  }
  const rows = (parsed as { lscpu?: unknown } | null)?.lscpu;
  if (!Array.isArray(rows)) throw new Error('lscpu -J printed JSON without an "lscpu" array');
  const fields = new Map<string, string>();
  const visit = (list: unknown[]): void => {
    for (const row of list as LscpuField[]) {
      if (typeof row?.field === 'string') {
        const key = row.field.trim().replace(/:$/, '').toLowerCase();
        if (!fields.has(key) && row.data !== null && row.data !== undefined) fields.set(key, String(row.data).trim());
      }
      if (Array.isArray(row?.children)) visit(row.children);
    }
  };
  visit(rows);
  return fields;
}

/** CPU facts from `lscpu -J` (6.2). `flags` is empty when lscpu shows none; see parseCpuinfoFlags. */
export function parseLscpu(json: string): CpuInfo {
  const fields = parseLscpuFields(json);
  const count = positiveInt(fields.get('cpu(s)'));
  if (count === null) throw new Error('lscpu -J printed no usable "CPU(s)" field');
  return {
    model_name: fields.get('model name') ?? '',
    frequency: fields.get('cpu max mhz') ?? fields.get('cpu mhz') ?? null,
    count,
    architecture: fields.get('architecture') ?? '',
    flags: splitFlags(fields.get('flags')),
    // Some ARM machines print "-" for sockets; every machine has at least one.
    socket_count: positiveInt(fields.get('socket(s)')) ?? 1,
  };
}

/**
 * CPU flags from /proc/cpuinfo, for when lscpu prints none: `flags` on x86,
 * `Features` on ARM. Every processor lists the same set, so the first line wins.
 */
export function parseCpuinfoFlags(cpuinfo: string): string[] {
  for (const line of cpuinfo.split('\n')) {
    const match = /^(flags|features)\s*:(.*)$/i.exec(line);
    if (match) return splitFlags(match[2]);
  }
  return [];
}

function splitFlags(text: string | undefined): string[] {
  return text ? text.trim().split(/\s+/).filter(Boolean) : [];
}

function positiveInt(text: string | undefined): number | null {
  if (text === undefined || !/^\d+$/.test(text)) return null;
  const value = Number(text);
  return value > 0 ? value : null;
}
