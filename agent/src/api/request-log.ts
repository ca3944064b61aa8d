import type http from 'node:http';
import type { Logger } from 'pino';
import { redactUrl, REDACTED } from '@ingot/protocol';

/** The paths of the API (reference 1.2), shown as they are; anything else is attacker text. */
const knownPaths: ReadonlySet<string> = new Set([
  '/', '/v1', '/v1/', '/status', '/v1/status', '/commands', '/commands/', '/v1/commands', '/v1/commands/',
]);
const commandPath = /^(\/v1)?\/commands\/([^/]*)$/;
/** Command ids are the runner's randomUUID()s. */
const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What the log may show of a request target, built from known-safe parts
 * only: a known path as is, a command id only when it has a command id's
 * shape, any other path as `***` (an unknown path, a segment, a `;` or a
 * backslash may all carry the token), and the query and fragment through
 * redactUrl. The token thus never depends on the logger's last-line scrub
 * (log-secrets.ts) to stay out of the log.
 */
export function describeTarget(target: string): string {
  const cut = target.search(/[?#]/);
  const rawPath = cut >= 0 ? target.slice(0, cut) : target;
  const rest = cut >= 0 ? redactUrl(target.slice(cut)) : '';
  return `${describePath(rawPath)}${rest}`;
}

function describePath(path: string): string {
  if (knownPaths.has(path)) return path;
  const command = commandPath.exec(path);
  if (command) return `${command[1] ?? ''}/commands/${uuidShape.test(command[2] ?? '') ? command[2] : REDACTED}`;
  return REDACTED;
}

/**
 * One line per answered request: method, the described target, status,
 * duration, peer. Called before any routing (create-api.ts), so a request
 * the router never takes (a target without a path) is logged too.
 */
export function logRequest(log: Logger, req: http.IncomingMessage, res: http.ServerResponse): void {
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    log.info({ method: req.method, path: describeRequest(req), status: res.statusCode, ms: Math.round(ms), remote: req.socket.remoteAddress }, 'request');
  });
}

/** The described target of a request, for other log lines about it. */
export const describeRequest = (req: http.IncomingMessage & { originalUrl?: string }): string => describeTarget(req.originalUrl ?? req.url ?? '');
