import { isIngotError } from '../errors.ts';

/**
 * An error as one line for a person: its message, then each cause's message
 * that adds something (a cause whose text is already in the line is the same
 * fact said twice, as when a wrapper copies its cause's message). No stack:
 * `verbose` adds it on the following lines.
 */
export function describeFailure(error: unknown, options: { verbose?: boolean } = {}): string {
  const parts: string[] = [];
  for (const current of causeChain(error)) {
    const text = messageOf(current).replace(/\s+/g, ' ').trim();
    if (text && !parts.some((part) => part.includes(text))) parts.push(text);
  }
  const line = parts.join(': ') || 'unknown error';
  if (!options.verbose || !(error instanceof Error) || !error.stack) return line;
  return `${line}\n${error.stack.split('\n').slice(1).join('\n')}`;
}

/** An error and its causes, outermost first; a cause that is not an Error ends it, and a cycle is followed once. */
export function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = error; current !== undefined && current !== null && !chain.includes(current); current = (current as { cause?: unknown }).cause) {
    chain.push(current);
    if (!(current instanceof Error)) break;
  }
  return chain;
}

function messageOf(value: unknown): string {
  if (isIngotError(value)) return value.message;
  if (value instanceof Error) {
    const code = (value as NodeJS.ErrnoException).code;
    // Node's network errors: "connect ECONNREFUSED 127.0.0.1:6385" already names the code.
    return code && !value.message.includes(code) ? `${value.message} (${code})` : value.message;
  }
  return typeof value === 'string' ? value : '';
}
