/**
 * URLs as they may appear in errors and logs: no credentials and no query
 * string, since signed image URLs (Swift temp URLs, S3 presigned URLs) carry
 * their secret there.
 */
export function describeImageUrl(url: string | URL): string {
  try {
    const parsed = typeof url === 'string' ? new URL(url) : url;
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}${parsed.search ? '?…' : ''}`;
  } catch {
    return '<unparsable URL>';
  }
}

/** `Basic …` from the user and password embedded in a URL, if any. */
export function basicAuthFromUrl(url: URL): string | undefined {
  if (!url.username && !url.password) return undefined;
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return `Basic ${Buffer.from(credentials).toString('base64')}`;
}
