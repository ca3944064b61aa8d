/**
 * Pure parsers of apt-cache output, used by `image-build resolve`.
 */

export interface DependencyEdge {
  kind: 'Depends' | 'PreDepends';
  /** The alternatives of one dependency, in order (`a | b`). */
  alternatives: string[];
}

export interface DependencyNode {
  name: string;
  /** True for `<virtual>` packages; their providers are listed instead of edges. */
  virtual: boolean;
  edges: DependencyEdge[];
  providers: string[];
}

/**
 * Parses `apt-cache depends --recurse ...` output. Alternatives appear as
 * `|Depends: a` followed by `Depends: b`; lines indented by four spaces under a
 * dependency list the packages providing it; a top-level `<name>` line is a
 * virtual package followed by its providers.
 */
export function parseAptDepends(text: string): Map<string, DependencyNode> {
  const nodes = new Map<string, DependencyNode>();
  let current: DependencyNode | undefined;
  let pending: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (!line.startsWith(' ')) {
      const virtual = line.startsWith('<');
      const name = line.replace(/^<|>$/g, '').trim();
      current = nodes.get(name) ?? { name, virtual, edges: [], providers: [] };
      nodes.set(name, current);
      pending = [];
      continue;
    }
    if (!current) continue;
    const match = /^ {2}(\|)?(PreDepends|Depends): (.+)$/.exec(line);
    if (match) {
      pending.push(match[3]!.replace(/^<|>$/g, '').trim());
      if (!match[1]) {
        current.edges.push({ kind: match[2] as DependencyEdge['kind'], alternatives: pending });
        pending = [];
      }
      continue;
    }
    if (current.virtual && /^ {2}\S/.test(line)) current.providers.push(line.trim());
  }
  return nodes;
}

/**
 * The packages to fetch: the roots plus every dependency the filter accepts,
 * walking the graph once. Of alternatives the first real (or provided) one
 * wins, as apt's resolver would choose it on an empty system.
 */
export function closeDependencies(graph: Map<string, DependencyNode>, roots: readonly string[], follow: (name: string) => boolean): string[] {
  const chosen = new Set<string>();
  const realName = (name: string): string | undefined => {
    const node = graph.get(name);
    if (!node) return undefined;
    if (!node.virtual) return name;
    return node.providers.find((provider) => graph.get(provider)?.virtual === false);
  };
  const queue = [...roots];
  while (queue.length > 0) {
    const wanted = queue.shift()!;
    const name = realName(wanted);
    if (!name) throw new Error(`no installable package provides ${wanted}`);
    if (chosen.has(name)) continue;
    chosen.add(name);
    for (const edge of graph.get(name)!.edges) {
      const target = edge.alternatives.map(realName).find((candidate) => candidate !== undefined);
      if (target && follow(target) && !chosen.has(target)) queue.push(target);
    }
  }
  return [...chosen].sort();
}

export interface DebRecord {
  name: string;
  version: string;
  architecture: string;
  sha256: string;
  size: number;
  depends: string;
}

/** Parses `apt-cache show --no-all-versions` records (RFC 822 stanzas). */
export function parseAptShow(text: string): DebRecord[] {
  const records: DebRecord[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const line of stanza.split('\n')) {
      if (/^\s/.test(line)) continue;
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      last = line.slice(0, colon);
      fields.set(last, line.slice(colon + 1).trim());
    }
    const name = fields.get('Package');
    if (!name) continue;
    records.push({
      name,
      version: fields.get('Version') ?? '',
      architecture: fields.get('Architecture') ?? '',
      sha256: fields.get('SHA256') ?? '',
      size: Number(fields.get('Size') ?? 0),
      depends: fields.get('Depends') ?? '',
    });
  }
  return records;
}
