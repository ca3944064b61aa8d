import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { IngotError, renderFault, toIngotError, redactUrl } from '@ingot/protocol';
import type { CommandRunner } from '../commands/command-runner.ts';
import { tokensMatch, type TokenHolder } from './token-check.ts';
import { rootDocument, statusDocument, v1Document } from './documents.ts';

export interface ApiOptions {
  runner: CommandRunner;
  tokens: TokenHolder;
  log: Logger;
  version: string;
  startedAt: number;
  /** Demand the token on GETs from the start, not only once a token-bearing GET was seen. */
  requireTokenOnGet?: boolean;
  waitLimitMs?: number;
  /** Largest accepted request body; Ironic's biggest is a deploy step with a config drive. */
  bodyLimit?: string;
}

/**
 * The agent's REST API (reference 1.2): every route with and without /v1, a
 * 308 where the trailing slash is missing, the token in `agent_token`.
 */
export function createApi(options: ApiOptions): express.Express {
  const { runner, tokens, log } = options;
  const waitLimitMs = options.waitLimitMs ?? 50_000;
  // Ironic 21.4 polls GET /v1/commands/ without a token, so GETs demand it only
  // once some GET has carried it (IPA before 12.0), unless configured otherwise.
  let tokenSeenOnGet = options.requireTokenOnGet ?? false;

  const app = express();
  app.disable('x-powered-by');
  app.set('strict routing', true);
  app.set('etag', false);

  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log.info({ method: req.method, path: redactUrl(req.originalUrl), status: res.statusCode, ms: Math.round(ms), remote: req.socket.remoteAddress }, 'request');
    });
    next();
  });

  const requireToken = (req: Request) => {
    const presented = typeof req.query.agent_token === 'string' ? req.query.agent_token : undefined;
    if (!tokensMatch(presented, tokens.current())) throw new IngotError('INGOT_TOKEN_INVALID', { details: '' });
  };
  const checkGetToken = (req: Request) => {
    if (typeof req.query.agent_token === 'string' && tokensMatch(req.query.agent_token, tokens.current())) tokenSeenOnGet = true;
    if (tokenSeenOnGet || typeof req.query.agent_token === 'string') requireToken(req);
  };
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

  const jsonBody = express.json({ type: () => true, limit: options.bodyLimit ?? '16mb', strict: false });

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
    app.post(`${prefix}/commands/`, (req, _res, next) => { requireToken(req); next(); }, jsonBody, async (req, res) => {
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

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const failure = fromHttpError(error);
    if (failure.status >= 500) log.error({ err: failure, path: redactUrl(req.originalUrl) }, 'request failed');
    res.status(failure.status).json(renderFault(failure));
  });

  return app;
}

/** body-parser errors carry a `type`; everything else becomes an IngotError. */
function fromHttpError(error: unknown): IngotError {
  if (error instanceof IngotError) return error;
  const type = (error as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large') return new IngotError('INGOT_BODY_TOO_LARGE', { details: 'the request body is larger than the agent accepts', cause: error });
  if (type === 'entity.parse.failed') return new IngotError('INGOT_BAD_REQUEST', { details: `the request body is not valid JSON (${(error as Error).message})`, cause: error });
  if (typeof type === 'string') return new IngotError('INGOT_BAD_REQUEST', { details: (error as Error).message, cause: error });
  return toIngotError(error);
}
