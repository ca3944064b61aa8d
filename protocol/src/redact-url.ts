/**
 * The one way a URL reaches a log line or an error message, on both sides.
 *
 * Query values are secrets until proven otherwise: the agent token travels as
 * `agent_token=`, and signed image and object-store URLs (Swift temp URLs, S3
 * presigned URLs) carry their signature in the query. So every value is
 * replaced by `***` except those of a few parameters known to be harmless, and
 * only when the value has the harmless shape (a `wait=true;agent_token=x`
 * smuggled into `wait` is hidden whole). Parameter names are shown only when
 * they are among the names Ingot, Ironic and object stores use (any other name
 * may itself be a secret: `?<token>=`); a parameter without `=` and any
 * fragment are hidden too; credentials in
 * the authority (`user:password@`) become `***@`. Works on absolute URLs and
 * on request targets (`/v1/commands/?wait=true`) alike, on the raw text, so an
 * odd form the URL parser would normalise or reject is still redacted.
 */
const harmless: ReadonlyMap<string, RegExp> = new Map([
  ['wait', /^(?:true|false|1|0)$/i],
  ['node_uuid', /^[0-9a-fA-F-]{36}$/],
  ['addresses', /^[0-9a-fA-F:%,]{0,1024}$/],
]);

/**
 * Names worth reading in a log (compared without case, `[...]` suffixes
 * allowed): the agent API's, Ironic's lookup, Swift temporary URLs, S3
 * presigned URLs and multipart uploads.
 */
const knownNames: ReadonlySet<string> = new Set([
  'wait', 'node_uuid', 'addresses', 'agent_token',
  'temp_url_sig', 'temp_url_expires', 'temp_url_prefix', 'filename', 'multipart-manifest', 'inline',
  'x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-expires', 'x-amz-signedheaders', 'x-amz-signature', 'x-amz-security-token',
  'x-amz-content-sha256', 'partnumber', 'uploadid', 'uploads', 'signature', 'expires', 'awsaccesskeyid',
]);

export const REDACTED = '***';

export function redactUrl(url: string | URL): string {
  const text = String(url);
  const hash = text.indexOf('#');
  const beforeHash = hash >= 0 ? text.slice(0, hash) : text;
  const question = beforeHash.indexOf('?');
  const base = question >= 0 ? beforeHash.slice(0, question) : beforeHash;
  const query = question >= 0 ? beforeHash.slice(question + 1) : undefined;
  // scheme://user:pass@host, also with backslashes or no slashes, as WHATWG parsers accept them.
  const shownBase = base.replace(/^((?:[a-z][a-z0-9+.-]*:)?[\\/]*)[^/\\?#]*@/i, `$1${REDACTED}@`);
  return `${shownBase}${query === undefined ? '' : `?${redactQuery(query)}`}${hash >= 0 ? `#${REDACTED}` : ''}`;
}

function redactQuery(query: string): string {
  return query.split('&').map((pair) => {
    if (pair === '') return '';
    const equals = pair.indexOf('=');
    if (equals < 0) return REDACTED;
    const name = pair.slice(0, equals);
    const value = pair.slice(equals + 1);
    // `agent_token[x]`: the base name is shown, what the brackets held is not.
    const base = name.replace(/\[.*$/s, '');
    const shownName = knownNames.has(base.toLowerCase()) ? (base === name ? name : `${base}[${REDACTED}]`) : REDACTED;
    const shape = harmless.get(name);
    return `${shownName}=${shape?.test(value) ? value : REDACTED}`;
  }).join('&');
}
