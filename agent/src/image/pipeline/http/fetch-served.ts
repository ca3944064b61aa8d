import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { IngotError, isIngotError, redactUrl } from '@ingot/protocol';
import { planResponse } from './http-head.ts';
import type { BodyConsumer } from './body-consumer.ts';
import { openResponse, type OpenResponse } from './http-connection.ts';
import type { DownloadRetry, WriteImageOptions } from '../types.ts';

const MAX_REDIRECTS = 5;

/** Where the bytes as served go: the streaming writer, or the staging file of an image that must be converted. */
export interface ServedDestination {
  /** Served bytes held so far: where a resumed request starts. */
  held(): number;
  /** Where the next body goes; may first check the destination can hold what the response announced. */
  consumer(): Promise<BodyConsumer>;
  /** The server ignored a Range request (or the file changed): drop everything held and take bytes from 0 again. */
  restart(): Promise<void>;
  /** Throws the destination's own failure (format, size, write), which no retry can cure. */
  throwIfFailed(): void;
}

/** Live counters, read by progress reporting while the download runs. */
export interface FetchState {
  /** Size of the file as served, once a response said it (never, for a chunked body without Content-Range). */
  total: number | undefined;
  /** The URL the last bytes came from. */
  urlIndex: number;
  attempts: number;
  resumes: number;
  restarts: number;
}

export interface FetchServedRequest {
  urls: readonly URL[];
  caPem?: string;
  proxy?: string | ((url: URL) => string | undefined);
  options: Pick<WriteImageOptions, 'stallTimeoutMs' | 'totalTimeoutMs' | 'retries' | 'backoff'>;
  /** Aborts everything: the caller's signal and the overall timeout. */
  signal: AbortSignal;
  /** Which of the two aborted, to tell a timeout from a cancel. */
  timeout?: AbortSignal;
  cancel?: AbortSignal;
  log: Logger;
  destination: ServedDestination;
  state: FetchState;
  /** Aborted by the destination on its own failure, to stop reading at once. */
  onAttempt?(attempt: AbortController): void;
  /**
   * Told at each failed attempt that will be retried, and with undefined once
   * a server sends the image's bytes again: so a caller shows "retrying" at
   * once instead of a download stuck at 0 bytes.
   */
  onRetry?(retry: DownloadRetry | undefined): void;
}


export function createFetchState(): FetchState {
  return { total: undefined, urlIndex: 0, attempts: 0, resumes: 0, restarts: 0 };
}

/**
 * Downloads the file as served into `destination`, to its last byte, across
 * dropped connections (HTTP Range resume, or a restart from byte 0 when the
 * server ignores Range), redirects and several URLs. Retries what may pass
 * (connection failures, stalls, 5xx, 408, 429) with backoff; a 4xx is the
 * server's final word and is not retried (IPA, ipa-protocol.md 9.4), though
 * another URL is still tried. Errors name the URL without its credentials or
 * query string.
 */
export async function fetchServed(request: FetchServedRequest): Promise<void> {
  const { urls, destination, state, options, log } = request;
  const refused = new Map<number, IngotError>();
  let failuresInRow = 0;
  let complete = false;
  while (!complete) {
    const url = urls[state.urlIndex]!;
    const heldBefore = destination.held();
    const attempt = new AbortController();
    request.onAttempt?.(attempt);
    const signal = AbortSignal.any([request.signal, attempt.signal]);
    state.attempts++;
    let response: OpenResponse | undefined;
    try {
      let current = url;
      for (let redirects = 0; ; redirects++) {
        const proxy = typeof request.proxy === 'function' ? request.proxy(current) : request.proxy;
        response = await openResponse({ url: current, rangeStart: destination.held(), caPem: request.caPem, proxy, stallTimeoutMs: options.stallTimeoutMs, signal });
        const plan = planResponse(response.head, destination.held(), state.total);
        if (plan.kind === 'redirect' && redirects < MAX_REDIRECTS) {
          response.close();
          current = new URL(plan.location, current);
          continue;
        }
        if (plan.kind === 'complete') {
          response.close();
          complete = true;
          break;
        }
        if (plan.kind === 'fatal' || plan.kind === 'redirect') {
          response.close();
          throw refusal(current, plan.kind === 'fatal' ? plan : { reason: 'too many redirects' });
        }
        if (plan.kind === 'retry') throw new IngotError('INGOT_IMAGE_DOWNLOAD', { details: `${redactUrl(current)}: ${plan.reason}` });
        if (plan.kind === 'restart') {
          log.warn({ url: redactUrl(current), held: destination.held() }, 'the server ignored the Range request: starting over from byte 0');
          state.restarts++;
          await destination.restart();
          state.total = plan.total;
          if (!plan.reuseBody) {
            response.close();
            break;
          }
        } else {
          state.total = plan.total;
          if (plan.start > 0) state.resumes++;
        }
        log.debug({ url: redactUrl(current), from: destination.held(), total: state.total, chunked: plan.bodyLength === 'chunked' }, 'reading image body');
        request.onRetry?.(undefined);
        await response.readBody(await destination.consumer(), plan.bodyLength);
        const held = destination.held();
        if (state.total !== undefined && held > state.total) {
          throw new IngotError('INGOT_IMAGE_DOWNLOAD', { details: `${redactUrl(current)}: the server sent ${held} bytes of a file it said has ${state.total}` });
        }
        // A chunked body's terminating chunk is its end: with no size announced, that is the whole file.
        complete = state.total === undefined ? plan.bodyLength === 'chunked' : held === state.total;
        break;
      }
      failuresInRow = 0;
    } catch (error) {
      response?.close();
      destination.throwIfFailed(); // format, size and write failures are final
      if (request.timeout?.aborted) throw new IngotError('INGOT_IMAGE_TIMEOUT', { details: `the image was not written within ${options.totalTimeoutMs} ms`, cause: error });
      if (request.cancel?.aborted) throw request.cancel.reason;
      if (isIngotError(error, 'INGOT_IMAGE_NOT_FOUND') || isIngotError(error, 'INGOT_IMAGE_REQUEST_REFUSED')) {
        refused.set(state.urlIndex, error);
        const next = urls.findIndex((_, index) => !refused.has(index));
        if (next < 0) throw error;
        log.warn({ err: error, url: redactUrl(url), next: redactUrl(urls[next]!) }, 'the image server refused the request: trying the next URL');
        state.urlIndex = next;
        continue;
      }
      const retryable = (isIngotError(error, 'INGOT_IMAGE_DOWNLOAD') || isIngotError(error, 'INGOT_IMAGE_STALLED')) && error.status !== 400;
      if (!retryable) throw error;
      failuresInRow = destination.held() > heldBefore ? 1 : failuresInRow + 1;
      if (failuresInRow > options.retries) throw error;
      const wait = Math.min(options.backoff.maxMs, options.backoff.initialMs * options.backoff.factor ** (failuresInRow - 1));
      log.warn({ err: error, url: redactUrl(url), held: destination.held(), total: state.total, waitMs: wait }, 'image download interrupted; resuming');
      const where = redactUrl(url);
      const details = isIngotError(error) ? error.details : (error as Error).message;
      request.onRetry?.({
        attempt: failuresInRow + 1, attempts: options.retries + 1, waitMs: wait, url: where,
        reason: details.startsWith(`${where}: `) ? details.slice(where.length + 2) : details,
      });
      state.urlIndex = nextUsable(urls.length, state.urlIndex, refused);
      await sleep(wait, undefined, { signal: request.signal }).catch(() => {});
    }
  }
}

/** 404 and 410 say the image is not there; other 4xx that this request will never be served; neither is retried. */
function refusal(url: URL, plan: { reason: string; status?: number }): IngotError {
  const where = redactUrl(url);
  if (plan.status === 404 || plan.status === 410) {
    return new IngotError('INGOT_IMAGE_NOT_FOUND', { details: `${where}: ${plan.reason}; check the image URL (and that the image server still holds the image)` });
  }
  if (plan.status !== undefined) {
    return new IngotError('INGOT_IMAGE_REQUEST_REFUSED', { details: `${where}: ${plan.reason}; check the image URL, its credentials or temporary URL signature` });
  }
  // Not the server's refusal but a response this client cannot use safely: final too (status 400 marks it so).
  return new IngotError('INGOT_IMAGE_DOWNLOAD', { details: `${where}: ${plan.reason}`, status: 400 });
}

function nextUsable(count: number, from: number, refused: ReadonlyMap<number, unknown>): number {
  for (let step = 1; step <= count; step++) {
    const index = (from + step) % count;
    if (!refused.has(index)) return index;
  }
  return from;
}
