/** `Basic …` from the user and password embedded in a URL, if any. */
export function basicAuthFromUrl(url: URL): string | undefined {
  if (!url.username && !url.password) return undefined;
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return `Basic ${Buffer.from(credentials).toString('base64')}`;
}
