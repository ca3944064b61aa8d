import type http from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { IngotError, renderFault, redactUrl } from '@ingot/protocol';
import type { CommandRunner } from '../commands/command-runner.ts';
import { toClientFault } from './client-fault.ts';
import { rootDocument, statusDocument, v1Document } from './documents.ts';
import { createGetTokenGate } from './get-token-gate.ts';
import { jsonBody, refuseAnnouncedOversize } from './json-body.ts';
import { describeRequest, logRequest } from './request-log.ts';
import { tokensMatch, type TokenHolder } from './token-check.ts';

/** Ironic's biggest request is a deploy step with an inline config drive (capped at 64 MiB gzipped+base64 by Ironic, 16 MiB is IPA's practical size). */
export const DEFAULT_BODY_LIMIT_BYTES = 16 * 1024 * 1024;

export interface ApiOptions {
  runner: CommandRunner;
  tokens: TokenHolder;
  log: Logger;
  version: string;
  startedAt: number;
  /** Demand the token on GETs from the start, not only once a GET carried the valid token (get-token-gate.ts). */
  requireTokenOnGet?: boolean;
  waitLimitMs?: number;
  /** Largest accepted request body in bytes; a larger one is refused with 413 (json-body.ts). */
  bodyLimitBytes?: number;
}

/**
 * The agent's REST API (reference 1.2): every route with and without /v1, a
 * 308 where the trailing slash is missing, the token in `agent_token`.
 */
export function createApi(options: ApiOptions): http.RequestListener {
  const { runner, tokens, log } = options;
  const waitLimitMs = options.waitLimitMs ?? 50_000;
  const bodyLimitBytes = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const getGate = createGetTokenGate({ tokens, requireAlways: options.requireTokenOnGet ?? false });

  const app = express();
  app.disable('x-powered-by');
  app.set('strict routing', true);
  app.set('etag', false);

  app.use(refuseAnnouncedOversize(bodyLimitBytes));

  const requireToken = (req: Request) => {
    const presented = typeof req.query.agent_token === 'string' ? req.query.agent_token : undefined;
    if (!tokensMatch(presented, tokens.current())) throw new IngotError('INGOT_TOKEN_INVALID', { details: '' });
  };
  const checkGetToken = (req: Request) => getGate.check(req.query.agent_token);
  const wantsWait = (req: Request) => typeof req.query.wait === 'string' && req.query.wait.toLowerCase() === 'true';
  const baseUrl = (req: Request) => `${req.protocol}://${req.get('host') ?? 'localhost'}`;

  const redirectWithSlash = (req: Request, res: Response) => {
    const query = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?')) : '';
    const target = `${req.path}/${query}`;
    // A 308 keeps the method and body, so a POST survives it; the body is JSON like every other answer.
    res.status(308).location(target).json({ location: redactUrl(target) });
  };

  app.get('/', (req, res) => { res.json(rootDocument(baseUrl(req))); });
  app.get('/v1', redirectWithSlash);
  app.get('/v1/', (req, res) => { res.json(v1Document(baseUrl(req))); });

  const readBody = jsonBody(bodyLimitBytes);

  for (const prefix of ['/v1', '']) {
    app.get(`${prefix}/status`, (_req, res) => { res.json(statusDocument(options.startedAt, options.version)); });
    app.all(`${prefix}/commands`, redirectWithSlash);
    app.get(`${prefix}/commands/`, (req, res) => {
      checkGetToken(req);
      res.json({ commands: runner.list() });
    });
    app.get(`${prefix}/commands/:id`, async (req, res) => {
      checkGetToken(req);
      const id = String(req.params.id);
      res.json(wantsWait(req) ? await runner.wait(id, waitLimitMs) : runner.get(id));
    });
    // The token is checked before the body is read (ipa-protocol.md 1.3).
    app.post(`${prefix}/commands/`, (req, _res, next) => { requireToken(req); next(); }, readBody, async (req, res) => {
      const body = req.body as unknown;
      const record = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
      if (typeof record.name !== 'string' || record.params === null || typeof record.params !== 'object' || Array.isArray(record.params)) {
        throw new IngotError('INGOT_BAD_REQUEST', { details: 'Missing or invalid name or params' });
      }
      res.json(await runner.execute(record.name, record.params, { wait: wantsWait(req), waitLimitMs }));
    });
  }

  app.use((req, _res, next) => {
    const knownPath = /^(\/v1)?\/(commands\/.*|status|)$/.test(req.path) || req.path === '/v1/';
    next(knownPath
      ? new IngotError('INGOT_METHOD_NOT_ALLOWED', { details: `The method ${req.method} is not allowed for the requested URL.` })
      : new IngotError('INGOT_NOT_FOUND', { details: 'The requested URL was not found on the server.' }));
  });

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => answerFault(error, req, res));

  const answerFault = (error: unknown, req: http.IncomingMessage, res: http.ServerResponse) => {
    const failure = toClientFault(error);
    if (failure.status >= 500) log.error({ err: failure, path: describeRequest(req) }, 'request failed');
    if (res.headersSent) return void res.destroy();
    // A body left unread (refused before it was read, or still announced) is not drained: the connection ends with this answer.
    if (!req.complete) res.setHeader('Connection', 'close');
    const body = JSON.stringify(renderFault(failure));
    res.writeHead(failure.status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) }).end(body);
  };

  // Express's router gives up on a target it finds no path in (`//?@#`: parseurl reads `//…` as a
  // host) and hands the request to its final handler, past every route and the 404 above, which
  // would answer an HTML page. Given a final callback of our own, anything the app leaves
  // unanswered ends in the fault shape instead, whatever the reason.
  return (req, res) => {
    logRequest(log, req, res);
    app(req as Request, res as Response, (error?: unknown) => answerFault(error ?? new IngotError('INGOT_URL_INVALID', { details: 'the request target has no path; send an origin-form path such as /v1/commands/' }), req, res));
  };
}
