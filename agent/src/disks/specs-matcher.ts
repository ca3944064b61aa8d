/**
 * oslo.utils `specs_matcher`, the grammar of IPA's root device hints
 * (ipa-protocol.md 9.10). A spec is `[<op>] <value>...`:
 * - numeric: `==`, `!=`, `>=`, `<=`, `<`, `>`, and `=` which (for legacy
 *   reasons, as in oslo) means greater than or equal;
 * - string: `s==`, `s!=`, `s<`, `s<=`, `s>`, `s>=`;
 * - `<in>` (substring), `<all-in>` (every value a substring), `<or>` (any equal).
 *
 * `<all-in>` follows the oslo releases IPA was written against (substrings of
 * the value); newer oslo expects a Python list literal, which a disk's
 * attribute never is. `<range-in>` is not a hint operator and is not parsed.
 */

/** pyparsing tries the unary literals in this order, so `==` wins over `=` and `s<=` over `s<`. */
const UNARY = ['==', '=', '!=', '<in>', '>=', '<=', '>', '<', 's==', 's!=', 's<=', 's<', 's>=', 's>'] as const;
const KEYWORDS = [...UNARY, '<all-in>', '<or>'];

/** An atom is a run of non-space characters that does not start with an operator. */
function atomAt(text: string): string | null {
  const match = /^\S+/.exec(text);
  if (!match || KEYWORDS.some((op) => text.startsWith(op))) return null;
  return match[0];
}

export interface ParsedSpec {
  op: string | null;
  operands: string[];
}

/** Parses like pyparsing's `parseString` without parseAll: trailing text is ignored; a failure means a plain value. */
export function parseSpec(spec: string): ParsedSpec {
  let rest = spec.trimStart();
  if (rest.startsWith('<or>')) {
    const operands: string[] = [];
    while (rest.startsWith('<or>')) {
      const after = rest.slice(4).trimStart();
      const atom = atomAt(after);
      if (atom === null) break;
      operands.push(atom);
      rest = after.slice(atom.length).trimStart();
    }
    if (operands.length) return { op: '<or>', operands };
    return { op: null, operands: [spec] };
  }
  if (rest.startsWith('<all-in>')) {
    const operands: string[] = [];
    rest = rest.slice('<all-in>'.length).trimStart();
    for (let atom = atomAt(rest); atom !== null; atom = atomAt(rest)) {
      operands.push(atom);
      rest = rest.slice(atom.length).trimStart();
    }
    return operands.length ? { op: '<all-in>', operands } : { op: null, operands: [spec] };
  }
  const op = UNARY.find((candidate) => rest.startsWith(candidate));
  if (op) {
    const atom = atomAt(rest.slice(op.length).trimStart());
    return atom === null ? { op: null, operands: [spec] } : { op, operands: [atom] };
  }
  const atom = atomAt(rest);
  return { op: null, operands: [atom ?? spec] };
}

/** The operator a spec starts with, or null (IPA's "len(ast) > 1"). */
export function specOperator(spec: string): string | null {
  return parseSpec(spec).op;
}

/** Python's float(): a malformed number makes the comparison false rather than throwing as oslo does. */
function float(value: string | number): number {
  if (typeof value === 'number') return value;
  const text = value.trim();
  return text === '' ? Number.NaN : Number(text);
}

const numeric: Record<string, (x: number, y: number) => boolean> = {
  '=': (x, y) => x >= y,
  '==': (x, y) => x === y,
  '!=': (x, y) => x !== y,
  '>=': (x, y) => x >= y,
  '<=': (x, y) => x <= y,
  '>': (x, y) => x > y,
  '<': (x, y) => x < y,
};

const strings: Record<string, (x: string, y: string) => boolean> = {
  's==': (x, y) => x === y,
  's!=': (x, y) => x !== y,
  's<': (x, y) => x < y,
  's<=': (x, y) => x <= y,
  's>': (x, y) => x > y,
  's>=': (x, y) => x >= y,
};

/** `specs_matcher.match(value, spec)`. */
export function matchSpec(value: string | number, spec: string): boolean {
  const { op, operands } = parseSpec(spec);
  const [first = ''] = operands;
  if (op === null) return String(value) === first;
  const numericOp = numeric[op];
  if (numericOp) {
    const x = float(value);
    const y = float(first);
    return !Number.isNaN(x) && !Number.isNaN(y) && numericOp(x, y);
  }
  const text = String(value);
  const stringOp = strings[op];
  if (stringOp) return stringOp(text, first);
  if (op === '<in>') return text.includes(first);
  if (op === '<all-in>') return operands.every((operand) => text.includes(operand));
  return operands.some((operand) => text === operand); // <or>
}
