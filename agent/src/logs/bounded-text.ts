/** A text cut to a byte budget, saying whether anything was dropped. */
export interface BoundedText {
  text: string;
  truncated: boolean;
}

/** Where a text came from when it is itself only the end of something larger (a file read by range). */
export interface TextOrigin {
  /** Bytes of the whole source. */
  bytes: number;
  /** The text starts in the middle of the source, so its first line is partial. */
  partial: boolean;
}

/**
 * Keeps the newest part of a text within `maxBytes` of UTF-8: logs grow at
 * the end, and the end is where a failure shows. The kept part starts at a
 * line boundary, so no half line (and no half of a secret that the scrubber
 * could no longer recognise) survives, and it opens with a note of the cut.
 */
export function keepTail(text: string, maxBytes: number, origin?: TextOrigin): BoundedText {
  const bytes = Buffer.from(text, 'utf8');
  const partial = origin?.partial ?? false;
  if (bytes.length <= maxBytes && !partial) return { text, truncated: false };
  const total = origin?.bytes ?? bytes.length;
  const note = (kept: number) => `[ingot: truncated, kept the last ${kept} of ${total} bytes]\n`;
  const room = Math.max(0, maxBytes - Buffer.byteLength(note(maxBytes)));
  const tail = dropPartialFirstLine(bytes.subarray(Math.max(0, bytes.length - room)).toString('utf8'));
  return { text: note(Buffer.byteLength(tail)) + tail, truncated: true };
}

/** Drops everything up to and including the first newline (the line the cut went through). */
export function dropPartialFirstLine(text: string): string {
  const newline = text.indexOf('\n');
  return newline === -1 ? '' : text.slice(newline + 1);
}
