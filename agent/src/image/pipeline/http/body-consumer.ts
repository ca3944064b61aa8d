/**
 * Where the body of an image response goes: the socket reads straight into
 * the buffer the consumer hands out (`onread`), so a raw image lands in its
 * slot with no copy (http-connection.ts).
 */
export interface BodyConsumer {
  /** Where the next socket read should land. */
  readBuffer(): Uint8Array;
  /** Takes `view` (bytes just read); false pauses the socket until `resume` is called. */
  onRead(view: Uint8Array): boolean;
  /** Receives the function that resumes this connection's socket. */
  attach(resume: () => void): void;
}
