/**
 * When a failed upload request is worth another attempt, and how long to wait
 * first. Pure: the uploaders ask, these answer.
 *
 * - 5xx, 408 (request timeout), 429 (slow down) and a dropped connection may
 *   pass the next time: retried.
 * - 401/403 (an expired or bad signature: a temp URL or presigned URL cannot
 *   be renewed by the agent) and every other 4xx (422: Swift's ETag check,
 *   400: S3's Content-MD5 check, 404: no container) will fail the same way
 *   again: not retried.
 */

/** Failed attempts tolerated per segment unless the caller says otherwise. */
export const DEFAULT_UPLOAD_RETRIES = 4;
const FIRST_WAIT_MS = 500;
const LONGEST_WAIT_MS = 8_000;

/** `status` null: no answer (connection refused, reset or cut mid-body). */
export function isRetryableFailure(status: number | null): boolean {
  if (status === null) return true;
  return status >= 500 || status === 408 || status === 429;
}

/**
 * A TLS certificate the agent does not trust fails the same way on every
 * attempt (the download's connectError reads the same codes): not retried.
 */
export function isCertificateError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? '';
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT_ALTNAME/.test(code);
}

/** The wait before attempt `failedAttempts + 1`: 0.5 s after the first failure, doubling, at most 8 s. */
export function backoffMs(failedAttempts: number): number {
  if (!Number.isInteger(failedAttempts) || failedAttempts < 1) throw new RangeError(`failedAttempts must be a positive integer, got ${failedAttempts}`);
  return Math.min(LONGEST_WAIT_MS, FIRST_WAIT_MS * 2 ** Math.min(failedAttempts - 1, 16));
}

/** Resolves after `ms`, or rejects with the signal's reason at once when it aborts. */
export function waitMs(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
