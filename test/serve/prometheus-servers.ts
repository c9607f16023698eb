import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { tempDir } from '../helpers.js';
import { exited, freeLoopbackPort } from './redis-server.js';

/**
 * The real Prometheus programs from Debian (`prometheus`, `prometheus-pushgateway`), each on a
 * free loopback port for one test file: started, waited for until `/-/ready` answers, stopped
 * in afterAll. `startPrometheus` scrapes any targets (a Pushgateway, `recsys serve`) every second.
 */
export interface RunningServer {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** 127.0.0.1:PORT, as a scrape target. */
  readonly address: string;
  stop(): Promise<void>;
}

export interface ScrapeTarget {
  /** The `job` label of the target's series. */
  readonly job: string;
  /** host:port */
  readonly address: string;
  /** Default /metrics. */
  readonly metricsPath?: string;
  /** Keep the labels the target exposes (a Pushgateway's job, instance) instead of Prometheus's own. */
  readonly honorLabels?: boolean;
}

const READY_TIMEOUT_MS = 30_000;
/** What is kept of a server's output for the error when it does not start. */
const OUTPUT_TAIL_CHARS = 4000;

/** Spawns `command` on a free loopback port (`args` gets the address) and waits for `/-/ready`. */
async function startServer(command: string, args: (address: string) => string[]): Promise<RunningServer> {
  const address = `127.0.0.1:${await freeLoopbackPort()}`;
  const url = `http://${address}`;
  const child: ChildProcess = spawn(command, args(address), { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr?.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-OUTPUT_TAIL_CHARS);
  });
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    await exited(child);
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${command} exited (${child.exitCode ?? child.signalCode}) before it was ready: ${output}`);
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return { url, address, stop };
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${command} was not ready at ${url} within ${READY_TIMEOUT_MS} ms: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A Pushgateway without persistence: Debian's build persists to /var/lib/prometheus/pushgateway.data
 * by default, which would carry one test's groups into the next (and outlive the test).
 */
export function startPushgateway(): Promise<RunningServer> {
  return startServer('prometheus-pushgateway', (address) => [`--web.listen-address=${address}`, '--persistence.file=']);
}

/** A Prometheus with its own temporary storage scraping `targets` every second. */
export function startPrometheus(targets: readonly ScrapeTarget[]): Promise<RunningServer> {
  const dir = tempDir('recsys-prometheus-');
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      scrape_configs: targets.map((t) => ({
        job_name: t.job,
        metrics_path: t.metricsPath ?? '/metrics',
        honor_labels: t.honorLabels ?? false,
        static_configs: [{ targets: [t.address] }],
      })),
    }),
  );
  return startServer('prometheus', (address) => [
    `--config.file=${config}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=${address}`,
    '--log.level=warn',
  ]);
}

/** One series of an instant query's answer. */
export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value: readonly [number, string];
}

interface QueryAnswer {
  readonly status: string;
  readonly error?: string;
  readonly data?: { readonly resultType: string; readonly result: PromSample[] };
}

/**
 * Asks Prometheus's query API (`GET /api/v1/query`) until the instant vector `promql` is not
 * empty (scrapes come every second); throws at the deadline, or at once for a query Prometheus rejects.
 */
export async function queryPrometheus(url: string, promql: string, timeoutMs = 20_000): Promise<PromSample[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const answer = (await res.json()) as QueryAnswer;
    if (answer.status !== 'success') throw new Error(`Prometheus rejected ${promql}: ${answer.error}`);
    const result = answer.data?.result ?? [];
    if (result.length > 0) return result;
    if (Date.now() > deadline) throw new Error(`${promql}: no result from ${url} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
