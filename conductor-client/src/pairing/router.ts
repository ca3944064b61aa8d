/**
 * Express router for the ramdisk endpoints of Ironic's API (ironic-conductor.md
 * §2): `GET /`, `GET /v1/lookup`, `POST /v1/heartbeat/:node`. Errors use
 * Ironic's body, whose `error_message` is itself a JSON string.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { pino, type Logger } from 'pino';
import { API_VERSION_HEADER, IngotError, compareApiVersions, parseApiVersion, renderFault, toIngotError } from '@ingot/protocol';
import type { Pairing } from './pairing.ts';

/** Lowest and highest microversions served. 1.68 is the newest one IPA knows (agent_verify_ca). */
export const MIN_API_VERSION = '1.1';
export const MAX_API_VERSION = '1.68';
/** Lookup and heartbeat exist from 1.22 on; below that Ironic answers 404. */
const RAMDISK_API_VERSION = '1.22';

export interface PairingRouterOptions {
  /** Largest accepted request body; a heartbeat with a PEM is about 1 KiB. Default '64kb'. */
  bodyLimit?: string | number;
  /**
   * Take the client address from the last X-Forwarded-For entry (the one the
   * proxy in front of us appended). Only set this behind a proxy you run.
   */
  trustForwardedFor?: boolean;
  log?: Logger;
}

/** Renders an error as Ironic does, with Ingot's stable code inside the fault. */
export function renderIronicError(error: IngotError): { error_message: string } {
  const fault = renderFault(error);
  return { error_message: JSON.stringify({ faultcode: fault.faultcode, faultstring: fault.faultstring, debuginfo: null, error_code: fault.error_code }) };
}

function remoteAddressOf(req: Request, trustForwardedFor: boolean): string | undefined {
  if (trustForwardedFor) {
    const forwarded = req.get('x-forwarded-for')?.split(',').map((part) => part.trim()).filter(Boolean);
    const last = forwarded?.at(-1);
    if (last) return last;
  }
  return req.socket.remoteAddress;
}

/** The request's microversion: header absent means 1.1, "latest" means the maximum. */
function requestVersion(req: Request): string {
  const header = req.get(API_VERSION_HEADER)?.trim();
  if (!header) return MIN_API_VERSION;
  if (header.toLowerCase() === 'latest') return MAX_API_VERSION;
  if (!parseApiVersion(header)) throw new IngotError('INGOT_BAD_REQUEST', { details: `Invalid value for ${API_VERSION_HEADER} header: ${header}` });
  if (compareApiVersions(header, MAX_API_VERSION) > 0 || compareApiVersions(header, MIN_API_VERSION) < 0) {
    throw new IngotError('INGOT_BAD_REQUEST', { status: 406, details: `Version ${header} was requested but the supported range is ${MIN_API_VERSION} to ${MAX_API_VERSION}` });
  }
  return header;
}

function ramdiskVersion(req: Request, res: Response): string {
  const version = requestVersion(req);
  res.set(API_VERSION_HEADER, version);
  if (compareApiVersions(version, RAMDISK_API_VERSION) < 0) throw new IngotError('INGOT_NOT_FOUND', { details: 'The resource could not be found.' });
  return version;
}

function versionDocument(req: Request): Record<string, unknown> {
  const base = `${req.protocol}://${req.get('host') ?? 'localhost'}${req.baseUrl}`;
  const v1 = { id: 'v1', links: [{ href: `${base}/v1/`, rel: 'self' }], status: 'CURRENT', min_version: MIN_API_VERSION, version: MAX_API_VERSION };
  return { name: 'OpenStack Ironic API', description: 'Ingot conductor: the ramdisk endpoints of the Ironic API.', default_version: v1, versions: [v1] };
}

/** Builds the router; mount it at the root of the conductor's API URL (`ipa-api-url`). */
export function createPairingRouter(pairing: Pairing, options: PairingRouterOptions = {}): Router {
  const { bodyLimit = '64kb', trustForwardedFor = false } = options;
  const log = options.log ?? pino({ level: 'silent' });
  const router = express.Router();

  router.use((_req, res, next) => {
    res.set(`${API_VERSION_HEADER.replace(/-Version$/, '')}-Minimum-Version`, MIN_API_VERSION);
    res.set(`${API_VERSION_HEADER.replace(/-Version$/, '')}-Maximum-Version`, MAX_API_VERSION);
    next();
  });

  router.get('/', (req, res) => {
    res.json(versionDocument(req));
  });

  router.get('/v1/lookup', async (req, res) => {
    const apiVersion = ramdiskVersion(req, res);
    const addresses = typeof req.query.addresses === 'string' ? req.query.addresses : undefined;
    const nodeUuid = typeof req.query.node_uuid === 'string' ? req.query.node_uuid : undefined;
    const reply = await pairing.lookup({ addresses, nodeUuid, apiVersion, remoteAddress: remoteAddressOf(req, trustForwardedFor) });
    res.json(reply);
  });

  // IPA sends JSON; pecan also merges query parameters, so both are read, the body winning.
  router.post('/v1/heartbeat/:node', express.json({ limit: bodyLimit, type: () => true, strict: true }), async (req, res) => {
    const apiVersion = ramdiskVersion(req, res);
    const fromQuery = Object.fromEntries(Object.entries(req.query).filter(([, value]) => typeof value === 'string'));
    const body: unknown = req.body === undefined ? fromQuery : typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body) ? { ...fromQuery, ...req.body } : req.body;
    await pairing.heartbeat(String(req.params.node), body, { apiVersion, remoteAddress: remoteAddressOf(req, trustForwardedFor) });
    res.status(202).end();
  });

  // What reaches here under the router's own paths matched no route: answer as Ironic does, in its error
  // shape (found by fuzzing: express's default was an HTML page), and leave every other path to the app.
  router.use((req, res, next) => {
    const path = req.path;
    if (path !== '/' && !/^\/v1\/(lookup|heartbeat)(\/|$)/.test(path)) return next();
    const allowed = path === '/' || /^\/v1\/lookup\/?$/.test(path) ? 'GET, HEAD' : /^\/v1\/heartbeat\/[^/]+\/?$/.test(path) ? 'POST' : undefined;
    if (allowed) res.set('Allow', allowed);
    next(allowed
      ? new IngotError('INGOT_METHOD_NOT_ALLOWED', { details: `${req.method} is not allowed here; use ${allowed}` })
      : new IngotError('INGOT_NOT_FOUND', { details: 'The resource could not be found.' }));
  });

  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const error = fromExpressError(err);
    if (error.status >= 500) log.error({ err }, 'pairing request failed');
    res.status(error.status).type('application/json').send(JSON.stringify(renderIronicError(error)));
  });

  return router;
}

/** body-parser errors carry `type` and `status`; anything else unknown is a 500. */
function fromExpressError(err: unknown): IngotError {
  if (err instanceof IngotError) return err;
  const type = (err as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large') return new IngotError('INGOT_BODY_TOO_LARGE');
  if (type === 'entity.parse.failed') return new IngotError('INGOT_BAD_REQUEST', { details: 'The request body is not valid JSON' });
  if (typeof type === 'string' && type.startsWith('encoding.')) return new IngotError('INGOT_BAD_REQUEST', { details: 'Unsupported request encoding' });
  // Any other client error express or body-parser reports (an unsupported charset is 415, a path that does
  // not percent-decode is 400), found by fuzzing: they were answered 500 as internal errors.
  const status = (err as { status?: unknown; statusCode?: unknown } | null)?.status ?? (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new IngotError('INGOT_BAD_REQUEST', { status, details: `The request was refused: ${String((err as Error).message).slice(0, 200)}` });
  }
  return toIngotError(err);
}
