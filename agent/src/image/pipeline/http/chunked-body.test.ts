import { describe, expect, it } from 'vitest';
import { ChunkedBody } from './chunked-body.ts';
import type { BodyConsumer } from './body-consumer.ts';

/** Collects what the decoder passes on, reading into one buffer as the socket would. */
function collector() {
  const buffer = new Uint8Array(256);
  const got: number[] = [];
  const offsets: number[] = [];
  const consumer: BodyConsumer = {
    readBuffer: () => buffer,
    onRead(view) {
      offsets.push(view.byteOffset);
      got.push(...view);
      return true;
    },
    attach() {},
  };
  return { consumer, buffer, text: () => Buffer.from(got).toString('latin1'), offsets };
}

/** Feeds `wire` through the decoder in pieces of `step` bytes, each read landing at the start of the consumer's buffer. */
function feed(body: ChunkedBody, sink: ReturnType<typeof collector>, wire: string, step: number): void {
  for (let at = 0; at < wire.length; at += step) {
    const piece = Buffer.from(wire.slice(at, at + step), 'latin1');
    const target = body.readBuffer();
    target.set(piece);
    body.onRead(target.subarray(0, piece.length));
  }
}

const wire = '5\r\nhello\r\n7;ext=1\r\n, chunk\r\n1\r\n!\r\n0\r\nX-Trailer: yes\r\n\r\n';

describe('ChunkedBody', () => {
  for (const step of [1, 2, 3, 7, wire.length]) {
    it(`decodes chunks, extensions and trailers whatever the read size (${step} bytes)`, () => {
      const sink = collector();
      const body = new ChunkedBody(sink.consumer);
      feed(body, sink, wire, step);
      expect(sink.text()).toBe('hello, chunk!');
      expect(body.decoded).toBe(13);
      expect(body.done).toBe(true);
    });
  }

  it('hands the inner consumer the body bytes at the start of the buffer it chose, so zero-copy slots stay in place', () => {
    const sink = collector();
    feed(new ChunkedBody(sink.consumer), sink, wire, wire.length);
    expect(sink.offsets).toEqual([0]);
  });

  it('is not done until the terminating chunk and the end of the trailers arrived', () => {
    const sink = collector();
    const body = new ChunkedBody(sink.consumer);
    feed(body, sink, '5\r\nhello\r\n0\r\n', 64);
    expect(sink.text()).toBe('hello');
    expect(body.done).toBe(false);
    feed(body, sink, '\r\n', 64);
    expect(body.done).toBe(true);
  });

  it('throws on a malformed size or data longer than its chunk-size', () => {
    const sink = collector();
    expect(() => feed(new ChunkedBody(sink.consumer), sink, 'zz\r\n', 64)).toThrow(/bad chunk-size/);
    expect(() => feed(new ChunkedBody(sink.consumer), sink, '2\r\nabc\r\n', 64)).toThrow(/longer than its chunk-size/);
  });
});
