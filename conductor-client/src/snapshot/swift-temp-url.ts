/**
 * Swift's temporary URLs (the `tempurl` middleware): an HMAC over
 * "METHOD\nEXPIRES\nPATH" keyed with the account's Temp-URL-Key. Swift tells
 * the hash by the hex digest's length; 64 hex digits is SHA-256, which
 * Swift 2.30 allows by default (SHA-1 is deprecated there).
 *
 * Hand-written with node:crypto: it is one HMAC, and no maintained npm
 * package does only this (the OpenStack SDKs for Node are unmaintained).
 */
import { createHmac } from 'node:crypto';

/**
 * The query string that makes `path` (`/v1/AUTH_x/container/object`, as
 * Swift sees it, unencoded) usable with `method` until `expires` (Unix seconds).
 */
export function tempUrlQuery(key: string, method: string, path: string, expires: number): string {
  const signature = createHmac('sha256', key).update(`${method}\n${expires}\n${path}`).digest('hex');
  return `temp_url_sig=${signature}&temp_url_expires=${expires}`;
}

/** A whole temp URL: `proxyUrl` (`http://host:port`) + `path` + the signed query, valid `ttlSeconds` from `now`. */
export function swiftTempUrl(options: { key: string; method: string; proxyUrl: string; path: string; ttlSeconds: number; now?: number }): string {
  const expires = Math.floor((options.now ?? Date.now()) / 1000) + Math.ceil(options.ttlSeconds);
  const encodedPath = options.path.split('/').map((part) => encodeURIComponent(part)).join('/');
  return `${options.proxyUrl.replace(/\/+$/, '')}${encodedPath}?${tempUrlQuery(options.key, options.method, options.path, expires)}`;
}
