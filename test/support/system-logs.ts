/**
 * What `log.collect_system_logs` packed, read on the host without the agent's
 * own tar code: base64, then gzip, then the ustar headers (enough for the
 * plain files the agent writes).
 */
import { gunzipSync } from 'node:zlib';

/** The entries of a tar archive by name (prefix/name), their contents as UTF-8. */
export function tarEntries(tar: Buffer): Map<string, string> {
  const entries = new Map<string, string>();
  for (let offset = 0; offset + 512 <= tar.length;) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const prefix = header.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString('utf8').replace(/\0.*$/s, '').trim() || '0', 8);
    entries.set(prefix ? `${prefix}/${name}` : name, tar.subarray(offset + 512, offset + 512 + size).toString('utf8'));
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}

/** `system_logs` as the agent sends it (base64 of a gzipped tar) → its entries. */
export function readSystemLogs(systemLogs: string): Map<string, string> {
  return tarEntries(gunzipSync(Buffer.from(systemLogs, 'base64')));
}
