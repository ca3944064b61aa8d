/**
 * Load against a running agent's API (test side): many connections that hold
 * the server without finishing a request (idle ones that send nothing, slow
 * ones that trickle a header byte a second, each reopened when the agent
 * closes it, so their number stays up), and at the same time a steady stream
 * of valid requests (authenticated GET /v1/commands/ and POSTs of a cheap
 * sync command). It measures how the valid requests fare and prints the
 * figures; it judges nothing itself.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';

export interface LoadOptions {
  /** The agent's API, e.g. its callback URL. */
  url: string;
  token: string;
  /** The agent's certificate (agent_verify_ca) for https. */
  ca?: string;
  /** Connections held open at once (half idle, half slow). */
  holders: number;
  /** Valid requests per second. */
  rate: number;
  durationMs: number;
  /** The sync command POSTed. */
  command?: string;
}

export interface LoadReport {
  sent: number;
  answered: number;
  statuses: Record<string, number>;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  holders: { target: number; peak: number; opened: number; closedByAgent: number; medianLifetimeMs: number };
  openFilesLimit: string;
}

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const url = new URL(options.url);
  const secure = url.protocol === 'https:';
  const port = Number(url.port || (secure ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let running = true;
  let open = 0;
  let peak = 0;
  let opened = 0;
  let closedByAgent = 0;
  const lifetimes: number[] = [];
  const sockets = new Set<net.Socket>();

  const hold = (slow: boolean) => {
    if (!running) return;
    const started = performance.now();
    opened += 1;
    // Idle ones open TCP only (over TLS: not even a handshake); slow ones finish the handshake and then trickle.
    const socket: net.Socket = secure && slow ? tls.connect({ host, port, ca: options.ca, rejectUnauthorized: false }) : net.connect(port, host);
    sockets.add(socket);
    open += 1;
    peak = Math.max(peak, open);
    let trickle: NodeJS.Timeout | undefined;
    const request = `GET /v1/status HTTP/1.1\r\nHost: ${host}\r\nX-Slow: ${'a'.repeat(1000)}`;
    let next = 0;
    socket.on(secure && slow ? 'secureConnect' : 'connect', () => {
      if (!slow) return;
      trickle = setInterval(() => { if (next < request.length) socket.write(request[next++]!); }, 1000);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(trickle);
      sockets.delete(socket);
      open -= 1;
      if (!running) return;
      closedByAgent += 1;
      lifetimes.push(performance.now() - started);
      setTimeout(() => hold(slow), 10);
    });
  };

  const agent = secure ? new https.Agent({ keepAlive: false, ca: options.ca, maxSockets: Infinity }) : new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let sent = 0;
  const valid = (index: number) => new Promise<void>((resolve) => {
    sent += 1;
    const post = index % 2 === 1;
    const body = post ? JSON.stringify({ name: options.command ?? 'standby.get_partition_uuids', params: {} }) : undefined;
    const started = performance.now();
    const request = (secure ? https : http).request(new URL(`/v1/commands/?agent_token=${encodeURIComponent(options.token)}`, url), {
      method: post ? 'POST' : 'GET', agent, timeout: 120_000, headers: body ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {},
    }, (response) => {
      response.resume();
      response.on('end', () => {
        latencies.push(performance.now() - started);
        statuses[String(response.statusCode)] = (statuses[String(response.statusCode)] ?? 0) + 1;
        resolve();
      });
    });
    request.on('timeout', () => request.destroy(new Error('no answer in 120 s')));
    request.on('error', (error) => { statuses[`error: ${error.message}`] = (statuses[`error: ${error.message}`] ?? 0) + 1; resolve(); });
    request.end(body);
  });

  for (let i = 0; i < options.holders; i += 1) hold(i % 2 === 1);
  const inFlight: Promise<void>[] = [];
  const started = performance.now();
  for (let index = 0; performance.now() - started < options.durationMs; index += 1) {
    inFlight.push(valid(index));
    // Paced by the clock, not by the answers: a slow agent does not slow the stream.
    const due = started + ((index + 1) * 1000) / options.rate;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
  }
  await Promise.all(inFlight);
  running = false;
  for (const socket of sockets) socket.destroy();
  agent.destroy();

  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN);
  const lives = [...lifetimes].sort((a, b) => a - b);
  return {
    sent,
    answered: latencies.length,
    statuses,
    latencyMs: { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: Math.round(sorted.at(-1) ?? Number.NaN) },
    holders: { target: options.holders, peak, opened, closedByAgent, medianLifetimeMs: Math.round(lives[Math.floor(lives.length / 2)] ?? Number.NaN) },
    openFilesLimit: readOpenFilesLimit(),
  };
}

/** `soft/hard` from /proc/self/limits: this process holds every client socket, an in-process agent as many again. */
export function readOpenFilesLimit(): string {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const [soft, hard] = line?.split(/\s{2,}/).slice(1, 3) ?? [];
    return `${soft}/${hard}`;
  } catch {
    return 'unknown';
  }
}

export function formatReport(report: LoadReport, options: Pick<LoadOptions, 'rate' | 'durationMs'>): string {
  const { latencyMs: l, holders: h } = report;
  return [
    `agent load: ${h.target} held connections (half idle, half trickling a header byte a second) and ${options.rate} valid requests/s for ${options.durationMs / 1000} s`,
    `  open-files limit (soft/hard) of this process: ${report.openFilesLimit}`,
    `  valid requests: ${report.answered}/${report.sent} answered; statuses ${JSON.stringify(report.statuses)}`,
    `  latency ms: p50 ${l.p50}, p95 ${l.p95}, p99 ${l.p99}, max ${l.max}`,
    `  held connections: peak ${h.peak} open at once, ${h.opened} opened, ${h.closedByAgent} closed by the agent, median lifetime ${h.medianLifetimeMs} ms`,
  ].join('\n');
}

/**
 * The same stream of valid requests first with no held connection (the
 * baseline, on this machine in this run), then under the load: the figures of
 * a shared machine mean something only against each other.
 */
export async function runLoadWithBaseline(options: LoadOptions, baselineMs = 5_000): Promise<{ baseline: LoadReport; loaded: LoadReport }> {
  const baseline = await runLoad({ ...options, holders: 0, durationMs: baselineMs });
  return { baseline, loaded: await runLoad(options) };
}

/** The loaded report, then the baseline's latency and the ratios against it. */
export function formatComparison(runs: { baseline: LoadReport; loaded: LoadReport }, options: Pick<LoadOptions, 'rate' | 'durationMs'>): string {
  const { baseline: b, loaded: l } = runs;
  const ratio = (loaded: number, base: number) => (base > 0 ? `x${(loaded / base).toFixed(1)}` : 'n/a');
  return [
    formatReport(l, options),
    `  baseline, the same stream with no held connection just before: ${b.answered}/${b.sent} answered; latency ms p50 ${b.latencyMs.p50}, p95 ${b.latencyMs.p95}, p99 ${b.latencyMs.p99}, max ${b.latencyMs.max}`,
    `  under load against the baseline: p50 ${ratio(l.latencyMs.p50, b.latencyMs.p50)}, p95 ${ratio(l.latencyMs.p95, b.latencyMs.p95)}, p99 ${ratio(l.latencyMs.p99, b.latencyMs.p99)}`,
  ].join('\n');
}
