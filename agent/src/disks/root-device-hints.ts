import { describeInput, IngotError, parseStrictBool } from '@ingot/protocol';
import type { BlockDevice } from './block-devices.ts';
import { matchSpec, specOperator } from './specs-matcher.ts';

/**
 * IPA's root device hints (ipa-protocol.md 9.10, `device_hints.py`): which
 * disk receives the image. Hints come from `instance_info.root_device`, else
 * `properties.root_device`, and use oslo's specs_matcher grammar.
 */
export const HINT_TYPES = {
  size: 'int', model: 'str', wwn: 'str', serial: 'str', vendor: 'str',
  wwn_with_extension: 'str', wwn_vendor_extension: 'str', name: 'str',
  rotational: 'bool', hctl: 'str', by_path: 'str', tran: 'str',
} as const;

export type HintName = keyof typeof HINT_TYPES;

/** Normalised hints: string and int hints as spec expressions (`s== foo%20bar`, `>= 100`), booleans as booleans. */
export type RootDeviceHints = Partial<Record<HintName, string | boolean>>;

/**
 * A disk as hints see it. IPA collects serial and wwn from both lsblk and udev
 * (`all_serial_and_wwn`), so a hint matches when any of the values does.
 */
export type HintCandidate = BlockDevice & {
  serials?: readonly string[];
  wwns?: readonly string[];
  wwnWithExtension?: string | null;
  wwnVendorExtension?: string | null;
};

const GiB = 1024 ** 3;
/** IPA's `guess_root_disk` minimum: smaller disks are never chosen without hints (9.10). */
export const MIN_ROOT_DISK_BYTES = 4 * GiB;

function invalid(details: string): never {
  throw new IngotError('INGOT_INVALID_PARAMS', { details });
}

/** Python's urllib.parse.quote with its default safe '/': everything but [A-Za-z0-9_.~/-] is percent-encoded. */
export function pythonQuote(text: string): string {
  // encodeURIComponent throws URIError on a lone surrogate (a hint "\udfff", found by fuzzing): it becomes U+FFFD first.
  const wellFormed = text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  return encodeURIComponent(wellFormed).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%2F/g, '/');
}

/**
 * `_normalize_hint_expression`: lower-case, split the values around the
 * operator, URL-quote each. IPA splits `<all-in> a b` around the operator
 * only, quoting `a b` into one operand that can never match; we split its
 * values on spaces, which is what the operator means.
 */
export function normalizeStringExpression(expression: string): string {
  const text = expression.trim().toLowerCase();
  if (!text) throw new Error('empty expression');
  const op = specOperator(text);
  if (!op) return pythonQuote(text);
  if (op === '<all-in>') return [op, ...text.slice(op.length).trim().split(/\s+/).map(pythonQuote)].join(' ');
  const values = text.split(op).filter((v) => v).map((v) => v.trim());
  return (op + values.map((v) => ` ${pythonQuote(v)} `).join(op)).trim();
}

/**
 * `parse_root_device_hints`: validates names and types, normalises values,
 * and adds the default operator (`s==` for strings, `==` for ints). Returns
 * null for no hints. Invalid hints are a 400 naming the hint.
 */
export function parseRootDeviceHints(raw: unknown): RootDeviceHints | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) invalid(`root device hints must be an object, got ${describeInput(raw)}`);
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length === 0) return null;
  const unknown = entries.map(([name]) => name).filter((name) => !Object.hasOwn(HINT_TYPES, name));
  if (unknown.length) invalid(`the root device hints "${unknown.join(', ')}" are invalid; valid hints are: ${Object.keys(HINT_TYPES).join(', ')}`);
  const hints: RootDeviceHints = {};
  for (const [name, value] of entries as [HintName, unknown][]) {
    const type = HINT_TYPES[name];
    if (type === 'bool') {
      const parsed = parseStrictBool(value);
      if (parsed === undefined) invalid(`root device hint "${name}" is not a Boolean value: ${describeInput(value)}`);
      hints[name] = parsed;
    } else if (type === 'str') {
      if (typeof value !== 'string' || !value.trim()) invalid(`root device hint "${name}" must be a non-empty string: ${describeInput(value)}`);
      const normalized = normalizeStringExpression(value);
      hints[name] = specOperator(normalized) ? normalized : `s== ${normalized}`;
    } else {
      hints[name] = parseSizeHint(name, value);
    }
  }
  return hints;
}

/** Sizes are positive integers in GiB; `100` means `== 100` (a float comparison of the disk's size in GiB). */
function parseSizeHint(name: string, value: unknown): string {
  if (typeof value !== 'number' && typeof value !== 'string') invalid(`root device hint "${name}" is not an integer value: ${describeInput(value)}`);
  const text = String(value).trim().toLowerCase();
  const op = specOperator(text);
  const values = op ? text.split(op).filter((v) => v).map((v) => v.trim()) : [text];
  for (const v of values) {
    if (!/^[+-]?\d+$/.test(v)) invalid(`root device hint "${name}" is not an integer value: ${describeInput(value)}`);
    if (Number(v) <= 0) invalid(`root device hint "${name}" should be a positive integer: ${describeInput(value)}`);
  }
  return op ? text : `== ${text}`;
}

function deviceValues(device: HintCandidate, name: HintName): readonly (string | null)[] {
  switch (name) {
    case 'model': return [device.model];
    case 'vendor': return [device.vendor];
    case 'serial': return device.serials?.length ? device.serials : [device.serial];
    case 'wwn': return device.wwns?.length ? device.wwns : [device.wwn];
    case 'wwn_with_extension': return [device.wwnWithExtension ?? null];
    case 'wwn_vendor_extension': return [device.wwnVendorExtension ?? null];
    case 'name': return [device.name];
    case 'hctl': return [device.hctl];
    case 'by_path': return [device.byPath];
    case 'tran': return [device.tran];
    default: return [];
  }
}

/** One device against every hint; a string attribute that is empty or unknown never matches (IPA skips the device). */
export function deviceMatchesHints(device: HintCandidate, hints: RootDeviceHints): boolean {
  return (Object.entries(hints) as [HintName, string | boolean][]).every(([name, spec]) => {
    if (name === 'rotational') return device.rotational === spec;
    if (name === 'size') return matchSpec(device.size / GiB, String(spec));
    return deviceValues(device, name).some((value) => {
      if (value === null || !value.trim()) return false;
      return matchSpec(normalizeStringExpression(value), String(spec));
    });
  });
}

/** The hints as given, one level deep: each value as describeInput shows it (a deep or BigInt value would break JSON.stringify). */
function showHints(raw: unknown): string {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return describeInput(raw);
  const shown = Object.entries(raw).map(([name, value]) => `${describeInput(name)}:${describeInput(value)}`);
  return `{${shown.join(',')}}`;
}

/**
 * Chooses the install disk (9.10): the first disk, in list (lsblk) order,
 * matching every hint; without hints, the smallest disk of at least 4 GiB,
 * ties broken by name. Read-only disks are never candidates: IPA would pick
 * one and fail on the first write. Invalid hints end as DeviceNotFound, as in
 * IPA's `get_os_install_device`.
 */
export function selectRootDevice<T extends HintCandidate>(devices: readonly T[], rawHints: unknown): T {
  const candidates = devices.filter((device) => !device.readOnly);
  let hints: RootDeviceHints | null;
  try {
    hints = parseRootDeviceHints(rawHints);
  } catch (error) {
    throw new IngotError('INGOT_DEVICE_NOT_FOUND', {
      details: `no device could be found using the root device hints ${showHints(rawHints)} because they failed to validate: ${(error as Error).message}`,
      cause: error,
    });
  }
  if (hints) {
    const found = candidates.find((device) => deviceMatchesHints(device, hints));
    if (found) return found;
    throw new IngotError('INGOT_DEVICE_NOT_FOUND', {
      details: `no disk matches the root device hints ${showHints(rawHints)} among ${candidates.map((d) => d.name).join(', ') || 'no writable disks'}`,
    });
  }
  const bySize = [...candidates].sort((a, b) => a.size - b.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const found = bySize.find((device) => device.size >= MIN_ROOT_DISK_BYTES);
  if (found) return found;
  throw new IngotError('INGOT_DEVICE_NOT_FOUND', {
    details: `no suitable disk: root device hints were not given and every writable disk is smaller than ${MIN_ROOT_DISK_BYTES} bytes (4 GiB)`,
  });
}

const isEmpty = (value: unknown) => value === undefined || value === null || value === ''
  || (typeof value === 'object' && Object.keys(value).length === 0);

/** The hints of a node: `instance_info.root_device`, else `properties.root_device`, an empty dict counting as none (9.10). */
export function rootDeviceHintsOf(node: { instance_info?: Record<string, unknown>; properties?: Record<string, unknown> }): unknown {
  const instance = node.instance_info?.root_device;
  if (!isEmpty(instance)) return instance;
  const properties = node.properties?.root_device;
  return isEmpty(properties) ? null : properties;
}
