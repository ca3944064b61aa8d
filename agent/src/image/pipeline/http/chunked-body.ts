import type { BodyConsumer } from './body-consumer.ts';

/** A chunk-size line longer than this is not a size line (RFC 9112 7.1 puts no limit; servers send a few hex digits). */
const SIZE_LINE_LIMIT = 4096;

type State = 'size' | 'size-lf' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'trailer-lf' | 'done';

/**
 * Decodes a `Transfer-Encoding: chunked` body (RFC 9112 7.1) in place: the
 * socket still reads into the buffer the inner consumer chooses (for raw
 * images the image slot itself), and the chunk framing is squeezed out of
 * each read by moving the data bytes down to its start, so the inner consumer
 * sees only body bytes at the offset it handed out. Only the terminating
 * zero-size chunk ends the body; a connection closing before it is a
 * truncated download, never a complete image.
 */
export class ChunkedBody implements BodyConsumer {
  /** Body bytes passed on so far. */
  decoded = 0;
  private state: State = 'size';
  private remaining = 0;
  private line = '';

  constructor(private readonly inner: BodyConsumer) {}

  /** Whether the terminating chunk and trailer section have arrived. */
  get done(): boolean {
    return this.state === 'done';
  }

  readBuffer(): Uint8Array {
    return this.inner.readBuffer();
  }

  attach(resume: () => void): void {
    this.inner.attach(resume);
  }

  /** Throws on malformed framing. Bytes after the terminating chunk are ignored (Connection: close). */
  onRead(view: Uint8Array): boolean {
    let out = 0;
    let at = 0;
    while (at < view.byteLength && this.state !== 'done') {
      if (this.state === 'data') {
        const count = Math.min(this.remaining, view.byteLength - at);
        if (out !== at) view.copyWithin(out, at, at + count);
        out += count;
        at += count;
        this.remaining -= count;
        if (this.remaining === 0) this.state = 'data-cr';
        continue;
      }
      this.frame(view[at++]!);
    }
    if (out === 0) return true;
    this.decoded += out;
    return this.inner.onRead(view.subarray(0, out));
  }

  private frame(byte: number): void {
    const CR = 0x0d;
    const LF = 0x0a;
    switch (this.state) {
      case 'size':
        if (byte === CR) this.state = 'size-lf';
        else if (byte === LF) this.endSizeLine();
        else if (this.line.length >= SIZE_LINE_LIMIT) throw new Error('chunk-size line longer than 4 KiB');
        else this.line += String.fromCharCode(byte);
        return;
      case 'size-lf':
        if (byte !== LF) throw new Error('chunk-size line not ended by CRLF');
        this.endSizeLine();
        return;
      case 'data-cr':
        if (byte === CR) this.state = 'data-lf';
        else if (byte === LF) this.state = 'size';
        else throw new Error('chunk data longer than its chunk-size');
        return;
      case 'data-lf':
        if (byte !== LF) throw new Error('chunk data not followed by CRLF');
        this.state = 'size';
        return;
      case 'trailer':
        if (byte === CR) this.state = 'trailer-lf';
        else if (byte === LF) this.endTrailerLine();
        else if (this.line.length >= SIZE_LINE_LIMIT) throw new Error('trailer line longer than 4 KiB');
        else this.line += String.fromCharCode(byte);
        return;
      case 'trailer-lf':
        if (byte !== LF) throw new Error('trailer line not ended by CRLF');
        this.endTrailerLine();
        return;
      default:
        return;
    }
  }

  private endSizeLine(): void {
    // chunk-size [ chunk-ext ]: extensions (";name=value") carry nothing we use.
    const size = this.line.split(';', 1)[0]!.trim();
    this.line = '';
    if (!/^[0-9a-fA-F]{1,13}$/.test(size)) throw new Error(`bad chunk-size ${JSON.stringify(size.slice(0, 20))}`);
    this.remaining = Number.parseInt(size, 16);
    this.state = this.remaining === 0 ? 'trailer' : 'data';
  }

  private endTrailerLine(): void {
    const empty = this.line === '';
    this.line = '';
    this.state = empty ? 'done' : 'trailer';
  }
}
