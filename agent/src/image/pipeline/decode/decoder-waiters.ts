/** A caller waiting on a decoder. */
export interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * What a decoder owes its caller: a promise per chunk fed (settled once the
 * chunk's memory may be reused) and one for the end of the stream. The
 * first failure is kept and settles every one of them, since the events
 * that would have resolved them will never come.
 */
export class DecoderWaiters<F extends Waiter = Waiter> {
  readonly feeds = new Map<number, F>();
  ended: Waiter | undefined;
  failure: Error | undefined;

  fail(error: Error): void {
    this.failure ??= error;
    for (const feed of this.feeds.values()) feed.reject(this.failure);
    this.feeds.clear();
    this.ended?.reject(this.failure);
    this.ended = undefined;
  }
}
