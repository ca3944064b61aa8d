import { IngotError } from '@ingot/protocol';
import { requestJson } from '../../conductor/http-json.ts';
import { redactUrl } from '../../log.ts';
import { resolveChecksumFile, type ChecksumOptions, type ChecksumSpec } from '../checksum-spec.ts';

/** Checksum files are small; a minute is generous even on a slow image server. */
const CHECKSUM_FILE_TIMEOUT_MS = 60_000;

/**
 * The digest to verify: the given value, or the one a checksum file lists for
 * the image (ipa-protocol.md 9.3), fetched with one GET.
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
