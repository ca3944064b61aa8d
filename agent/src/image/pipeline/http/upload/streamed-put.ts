import type { ClientRequest } from 'node:http';
import { IngotError, redactUrl } from '@ingot/protocol';
import type { Logger } from 'pino';
import { certificateRefused, createUploadAgent, describeStoreReason, parseUploadUrl, startPut, type PutAnswer } from './put-request.ts';
import { backoffMs, isCertificateError, waitMs } from './retry-policy.ts';
import { abortError } from './segmented-upload.ts';
import type { RetryInfo, SnapshotUpload } from './upload-types.ts';

/**
 * `http_put`: the whole stream in one PUT with `Transfer-Encoding: chunked`
 * (its size is known only at the end), e.g. nginx with WebDAV. Each chunk is
 * handed to the socket and `write` resolves once it was flushed to the kernel:
 * the socket's backpressure, and the chunk is the caller's again.
 *
 * Nothing is kept to send again, so only setting up the connection (before
 * the first byte of the body) is retried; an answer other than 2xx, or a
 * connection dropped midway, fails the upload.
 */
export function openStreamedPut(options: { url: string; caPem?: string; retries: number; signal?: AbortSignal; log: Logger; onRetry?(info: RetryInfo): void }): SnapshotUpload {
  const url = parseUploadUrl(options.url, 'the http_put URL');
  const where = redactUrl(url);
  const controller = new AbortController();
  const stopped = controller.signal;
  const { agent, destroy } = createUploadAgent(url, { caPem: options.caPem, maxSockets: 1 });
  let failure: Error | undefined;
  let sent = 0;
  let opening: Promise<{ request: ClientRequest; answer: Promise<PutAnswer> }> | undefined;
  let finishing: Promise<never[]> | undefined;

  const fail = (error: Error) => {
    if (failure) return;
    failure = error;
    controller.abort(error);
    destroy();
  };
  const onOuterAbort = () => fail(abortError(options.signal!.reason));
  if (options.signal?.aborted) onOuterAbort();
  else options.signal?.addEventListener('abort', onOuterAbort, { once: true });

  const open = async () => {
    const attempts = options.retries + 1;
    for (let attempt = 1; ; attempt += 1) {
      if (stopped.aborted) throw stopped.reason as Error;
      const started = startPut(url, { agent, headers: { 'Transfer-Encoding': 'chunked', 'Content-Type': 'application/octet-stream' }, signal: stopped });
      try {
        await Promise.race([connected(started.request, url.protocol === 'https:'), started.answer.then(() => undefined)]);
        return started;
      } catch (error) {
        if (stopped.aborted) throw stopped.reason as Error;
        if (isCertificateError(error)) throw certificateRefused(`PUT ${where}`, error as NodeJS.ErrnoException);
        const reason = `no connection: ${(error as Error).message}`;
        if (attempt >= attempts) throw new IngotError('INGOT_SNAPSHOT_UPLOAD', { details: `PUT ${where} failed ${attempts} times; last: ${reason}`, cause: error });
        const wait = backoffMs(attempt);
        options.log.warn({ attempt, attempts, reason, waitMs: wait }, 'snapshot upload could not connect, retrying');
        options.onRetry?.({ segment: 0, attempt, attempts, reason, waitMs: wait });
        await waitMs(wait, stopped);
      }
    }
  };
  const opened = () => (opening ??= open());

  /** The answer read as the upload's outcome. */
  const judge = (answer: PutAnswer, ended: boolean): Error | undefined => {
    if (ended && answer.status >= 200 && answer.status < 300) return undefined;
    const early = ended ? '' : ` before the stream ended (after ${sent} bytes)`;
    return new IngotError('INGOT_SNAPSHOT_UPLOAD', { details: `PUT ${where} answered HTTP ${answer.status}${early}: ${describeStoreReason(answer.body, url) || 'no reason given'}` });
  };
  const dropped = (error: unknown) => stopped.aborted
    ? (stopped.reason as Error)
    : new IngotError('INGOT_SNAPSHOT_UPLOAD', { details: `PUT ${where}: the connection dropped after ${sent} bytes (${(error as Error).message}); a streamed PUT cannot be resumed: capture again`, cause: error });

  return {
    async write(chunk) {
      if (failure) throw failure;
      if (finishing) throw new Error('write after finish');
      try {
        const { request, answer } = await opened();
        if (chunk.length === 0) return;
        // An answer before the end (a refusal, a dropped connection) ends the wait for the flush too.
        await Promise.race([
          new Promise<void>((resolve, reject) => request.write(chunk, (error) => (error ? reject(error) : resolve()))),
          answer.then((early) => { throw judge(early, false); }),
        ]);
        sent += chunk.length;
      } catch (error) {
        fail(error instanceof IngotError || stopped.aborted ? (failure ?? (error as Error)) : dropped(error));
        throw failure;
      }
      if (failure) throw failure;
    },
    finish() {
      finishing ??= (async () => {
        try {
          if (failure) throw failure;
          const { request, answer } = await opened();
          request.end();
          let result: PutAnswer;
          try {
            result = await answer;
          } catch (error) {
            throw dropped(error);
          }
          const refused = judge(result, true);
          if (refused) throw refused;
          options.log.info({ bytes: sent, status: result.status }, 'snapshot stored with one PUT');
          return [];
        } catch (error) {
          fail(error as Error);
          throw failure;
        } finally {
          options.signal?.removeEventListener('abort', onOuterAbort);
          destroy();
        }
      })();
      return finishing;
    },
    async abort(reason) {
      fail(reason);
      options.signal?.removeEventListener('abort', onOuterAbort);
      await opening?.catch(() => {});
    },
  };
}

/** Resolves once the socket is connected; for https once the TLS handshake is done, so a bad certificate counts as set-up. */
function connected(request: ClientRequest, secure: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    request.once('error', reject);
    request.once('socket', (socket) => {
      if (!socket.connecting && (!secure || (socket as import('node:tls').TLSSocket).encrypted && !socket.pending)) resolve();
      else socket.once(secure ? 'secureConnect' : 'connect', () => resolve());
    });
  });
}
