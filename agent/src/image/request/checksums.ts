import { describeInput, IngotError, redactUrl } from '@ingot/protocol';
import { requestJson } from '../../net/http-json.ts';

/**
 * Which digest verifies an image, and against what (ipa-protocol.md 9.3).
 *
 * The bytes hashed are the file AS SERVED by the image URL: the compressed
 * bytes of a `.zst`/`.gz`/`.xz` file and the qcow2 container of a qcow2 image,
 * never the decompressed or converted output. That is what Glance's
 * `os_hash_value` and the published SHA256SUMS files describe, so the digest
 * can be checked before anything reports success.
 */
export type DigestAlgorithm = 'md5' | 'sha256' | 'sha384' | 'sha512';

export interface ChecksumOptions {
  /** IPA's `md5_enabled`, overridden by the lookup's `agent_md5_checksum_enable` (9.3). */
  md5Allowed: boolean;
}

/** The checksum fields of `image_info`, as validated by parseImageInfo. */
export interface ChecksumFields {
  checksum: string | null;
  osHashAlgo: string | null;
  osHashValue: string | null;
}

/** A digest known up front, or a checksum file to fetch (with the algorithm, when os_hash_algo named it). */
export type ChecksumSpec =
  | { kind: 'value'; algorithm: DigestAlgorithm; expected: string; source: 'os_hash' | 'checksum' }
  | { kind: 'file'; url: string; algorithm: DigestAlgorithm | null; source: 'os_hash' | 'checksum' };

const algorithmByLength: ReadonlyMap<number, DigestAlgorithm> = new Map([
  [32, 'md5'], [64, 'sha256'], [96, 'sha384'], [128, 'sha512'],
]);
const lengthByAlgorithm: Record<DigestAlgorithm, number> = { md5: 32, sha256: 64, sha384: 96, sha512: 128 };

export function isChecksumUrl(value: string): boolean {
  return /^https?:\/\//i.test(value);
}

export function isDigestAlgorithm(value: string): value is DigestAlgorithm {
  return Object.hasOwn(lengthByAlgorithm, value);
}

function fail(code: 'INGOT_INVALID_PARAMS' | 'INGOT_IMAGE_CHECKSUM_SPEC', details: string): never {
  throw new IngotError(code, { details });
}

/** Infers the algorithm from a hex digest's length (32 md5, 64 sha256, 96 sha384, 128 sha512), as IPA does. */
export function algorithmForDigest(hex: string, options: ChecksumOptions, field = 'checksum'): DigestAlgorithm {
  const value = hex.trim();
  const algorithm = /^[0-9a-f]+$/i.test(value) ? algorithmByLength.get(value.length) : undefined;
  if (!algorithm) fail('INGOT_INVALID_PARAMS', `image_info.${field} must be 32, 64, 96 or 128 hexadecimal characters (md5, sha256, sha384, sha512), got ${describeInput(value, { url: true })}`);
  if (algorithm === 'md5' && !options.md5Allowed) {
    fail('INGOT_INVALID_PARAMS', `image_info.${field} is an MD5 digest and MD5 is not allowed (agent_md5_checksum_enable is off); give os_hash_algo and os_hash_value`);
  }
  return algorithm;
}

/**
 * Chooses the digest (9.3): a supported os_hash_algo wins; otherwise the
 * legacy `checksum`, whose algorithm follows from its length. IPA accepts any
 * hashlib name in os_hash_algo; we support the four the pipeline digests and,
 * as IPA does with an algorithm it lacks, fall back to `checksum` if present.
 */
export function chooseChecksumSpec(fields: ChecksumFields, options: ChecksumOptions): ChecksumSpec {
  const algo = fields.osHashAlgo?.trim().toLowerCase() ?? '';
  const value = fields.osHashValue?.trim() ?? '';
  if (algo && value && isDigestAlgorithm(algo)) {
    if (algo === 'md5' && !options.md5Allowed) {
      fail('INGOT_INVALID_PARAMS', 'image_info.os_hash_algo is md5 and MD5 is not allowed (agent_md5_checksum_enable is off)');
    }
    if (isChecksumUrl(value)) return { kind: 'file', url: value, algorithm: algo, source: 'os_hash' };
    const inferred = /^[0-9a-f]+$/i.test(value) ? algorithmByLength.get(value.length) : undefined;
    if (inferred !== algo) {
      fail('INGOT_INVALID_PARAMS', `image_info.os_hash_value must be ${lengthByAlgorithm[algo]} hexadecimal characters for ${algo}, got ${value.length} characters`);
    }
    return { kind: 'value', algorithm: algo, expected: value.toLowerCase(), source: 'os_hash' };
  }
  const checksum = fields.checksum?.trim() ?? '';
  if (checksum) {
    if (isChecksumUrl(checksum)) return { kind: 'file', url: checksum, algorithm: null, source: 'checksum' };
    return { kind: 'value', algorithm: algorithmForDigest(checksum, options), expected: checksum.toLowerCase(), source: 'checksum' };
  }
  if (algo) fail('INGOT_INVALID_PARAMS', `image_info.os_hash_algo ${describeInput(algo)} is not supported (use sha256, sha384, sha512 or md5) and no checksum was given`);
  return fail('INGOT_INVALID_PARAMS', 'image_info needs a checksum, or os_hash_algo and os_hash_value');
}

/** The name a checksum file lists the image under: the basename of the first URL's path (9.3). */
export function imageFileName(url: string): string {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    path = url.split(/[?#]/)[0] ?? url;
  }
  return path.slice(path.lastIndexOf('/') + 1);
}

// `s`: a name may hold U+2028 or U+2029, which `.` would not match (found by fuzzing); lines are split on \n already.
const bsdLine = /^([A-Za-z0-9-]+)\s*\((.*)\)\s*=\s*([0-9a-fA-F]+)$/s;

function gnuName(rest: string, escaped: boolean): string {
  // sha256sum writes `*` for binary mode (the same as text mode on GNU) and,
  // for names holding `\` or a newline, a leading `\` with escapes.
  const name = rest.startsWith('*') ? rest.slice(1) : rest;
  return escaped ? name.replace(/\\(\\|n)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\')) : name;
}

function sameFile(listed: string, wanted: string): boolean {
  const base = listed.slice(listed.lastIndexOf('/') + 1);
  return listed === wanted || base === wanted;
}

/**
 * Finds the image's digest in a checksum file (9.3): a lone bare hash, the
 * GNU `sha256sum` format (`<hash>  <name>` or `<hash> *<name>`) or the BSD
 * format (`SHA256 (<name>) = <hash>`, as CentOS and Fedora publish). Lines
 * starting with `#` and unrelated lines (PGP armour) are skipped. Names are
 * matched exactly or by basename (`./x.img`); the percent-decoded form of
 * the URL's name is tried too, since files list names unescaped.
 */
export function parseChecksumFile(text: string, fileName: string): string {
  const lines = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
  if (lines.length === 0) fail('INGOT_IMAGE_CHECKSUM_SPEC', 'the checksum file is empty');
  if (lines.length === 1 && !/\s/.test(lines[0]!)) return checkHex(lines[0]!, 'the checksum file');
  let decoded = fileName;
  try {
    decoded = decodeURIComponent(fileName);
  } catch { /* keep the name as given */ }
  const wanted = [fileName, decoded];
  for (const line of lines) {
    const bsd = bsdLine.exec(line);
    if (bsd && wanted.some((name) => sameFile(bsd[2]!, name))) return checkHex(bsd[3]!, `the checksum file's line for ${fileName}`);
    const escaped = line.startsWith('\\');
    const gnu = /^([0-9a-fA-F]+)\s+(.+)$/s.exec(escaped ? line.slice(1) : line);
    if (gnu && wanted.some((name) => sameFile(gnuName(gnu[2]!, escaped), name))) return checkHex(gnu[1]!, `the checksum file's line for ${fileName}`);
  }
  return fail('INGOT_IMAGE_CHECKSUM_SPEC', `the checksum file does not list ${describeInput(fileName)}`);
}

function checkHex(value: string, where: string): string {
  if (!/^[0-9a-fA-F]+$/.test(value) || !algorithmByLength.has(value.length)) {
    fail('INGOT_IMAGE_CHECKSUM_SPEC', `${where} does not hold a 32, 64, 96 or 128 character hexadecimal digest`);
  }
  return value.toLowerCase();
}

/** Turns a fetched checksum file into the digest to verify; the algorithm is the stated one, else inferred. */
export function resolveChecksumFile(
  spec: Extract<ChecksumSpec, { kind: 'file' }>, text: string, imageUrl: string, options: ChecksumOptions,
): Extract<ChecksumSpec, { kind: 'value' }> {
  const expected = parseChecksumFile(text, imageFileName(imageUrl));
  const inferred = algorithmByLength.get(expected.length)!;
  if (spec.algorithm && spec.algorithm !== inferred) {
    fail('INGOT_IMAGE_CHECKSUM_SPEC', `the checksum file ${redactUrl(spec.url)} holds a ${expected.length}-character digest, not a ${spec.algorithm} one`);
  }
  if (inferred === 'md5' && !options.md5Allowed) fail('INGOT_IMAGE_CHECKSUM_SPEC', `the checksum file ${redactUrl(spec.url)} holds an MD5 digest and MD5 is not allowed`);
  return { kind: 'value', algorithm: inferred, expected, source: spec.source };
}

/** Case-insensitive digest comparison: IPA's plain equality fails on an uppercase expected value (9.3), we do not. */
export function digestsMatch(actual: string, expected: string): boolean {
  const a = actual.trim().toLowerCase();
  return a.length > 0 && a === expected.trim().toLowerCase();
}

/** Checksum files are small; a minute is generous even on a slow image server. */
const CHECKSUM_FILE_TIMEOUT_MS = 60_000;

/**
 * The digest to verify: the given value, or the one a checksum file lists for
 * the image (9.3), fetched with one GET.
 */
export async function readExpectedDigest(spec: ChecksumSpec, imageUrl: string, options: ChecksumOptions): Promise<Extract<ChecksumSpec, { kind: 'value' }>> {
  if (spec.kind === 'value') return spec;
  let response;
  try {
    response = await requestJson({ method: 'GET', url: spec.url, headers: { Accept: 'text/plain, */*' }, timeoutMs: CHECKSUM_FILE_TIMEOUT_MS });
  } catch (error) {
    throw new IngotError('INGOT_IMAGE_DOWNLOAD', { details: `cannot fetch the checksum file ${redactUrl(spec.url)}: ${(error as Error).message}`, cause: error });
  }
  if (response.status !== 200) {
    throw new IngotError('INGOT_IMAGE_CHECKSUM_SPEC', { details: `the checksum file ${redactUrl(spec.url)} answered HTTP ${response.status}` });
  }
  return resolveChecksumFile(spec, response.text, imageUrl, options);
}

/**
 * The expected digest of the image AS SERVED (the compressed file when it is
 * compressed), as Glance's os_hash_value is computed, in the form the
 * pipeline verifies. IPA compares with Python's lowercase hexdigest() by
 * plain equality, so an uppercase value fails there (9.3); we compare
 * case-insensitively.
 */
export interface ExpectedDigest {
  algorithm: DigestAlgorithm;
  value: string;
}

/** Validates the expected digest up front, so a typo fails before a byte is downloaded. Returns it lowercased. */
export function parseExpectedDigest(expected: ExpectedDigest): ExpectedDigest {
  const algorithm = expected.algorithm;
  if (!isDigestAlgorithm(algorithm)) {
    throw new IngotError('INGOT_INVALID_PARAMS', { details: `unsupported image digest algorithm ${describeInput(algorithm)}; use sha256, sha384, sha512 or md5` });
  }
  const value = expected.value.trim().toLowerCase();
  if (!/^[0-9a-f]+$/.test(value) || value.length !== lengthByAlgorithm[algorithm]) {
    throw new IngotError('INGOT_INVALID_PARAMS', {
      details: `the expected ${algorithm} digest must be ${lengthByAlgorithm[algorithm]} hexadecimal characters, got ${value.length} characters`,
    });
  }
  return { algorithm, value };
}
