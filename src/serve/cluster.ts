import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { RecsysError } from '../util/errors.js';
import { log } from '../util/log.js';

/**
 * `recsys serve --workers N`: one event loop answers one request at a time, so on a machine
 * with N cores N worker processes (node:cluster) share the port, each with the model loaded
 * (memory × N). The primary serves nothing: it starts the workers, replaces one that dies after
 * it was ready, stops them on SIGINT/SIGTERM, and answers a worker's /metrics request with every
 * worker's metrics added up (prom-client's AggregatorRegistry).
 */
type Message =
  | { type: 'recsys:ready' }
  | { type: 'recsys:failed'; message: string; exitCode: number }
  | { type: 'recsys:metrics-request'; id: number }
  | { type: 'recsys:metrics'; id: number; text?: string; error?: string };

export const isClusterWorker = (): boolean => cluster.isWorker;

/** Runs the primary until a signal stops it; rejects (with the worker's message and exit code) when a worker fails before it is ready. */
export function runPrimary(workers: number): Promise<void> {
  const aggregator = new AggregatorRegistry();
  const ready = new Set<number>();
  let stopping = false;
  return new Promise<void>((resolve, reject) => {
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      log.info(`${signal}: stopping ${Object.keys(cluster.workers ?? {}).length} worker(s)`);
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    };
    cluster.on('message', (worker, m: Message) => {
      if (m.type === 'recsys:ready') ready.add(worker.id);
      else if (m.type === 'recsys:failed') {
        // The worker ends itself; the others are stopped, and the primary reports its one line.
        stop('SIGTERM');
        reject(new RecsysError(m.message, m.exitCode));
      } else if (m.type === 'recsys:metrics-request')
        aggregator.clusterMetrics().then(
          (text) => worker.send({ type: 'recsys:metrics', id: m.id, text } satisfies Message),
          (err: Error) => worker.send({ type: 'recsys:metrics', id: m.id, error: err.message } satisfies Message),
        );
    });
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) {
        if (Object.keys(cluster.workers ?? {}).length === 0) resolve();
        return;
      }
      if (!ready.has(worker.id)) {
        stop('SIGTERM');
        reject(new RecsysError(`serve: a worker exited before it was ready (${signal ?? `exit ${code}`})`, 1));
        return;
      }
      log.warn(`serve: worker ${worker.process.pid} ended (${signal ?? `exit ${code}`}); starting another`);
      log.event('serve.worker_replaced', { pid: worker.process.pid, code, signal });
      cluster.fork();
    });
    for (let i = 0; i < workers; i++) cluster.fork();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** In a worker: lets the primary collect `registry`, and returns what /metrics answers (every worker's metrics). */
export function workerMetrics(registry: Registry): () => Promise<string> {
  new AggregatorRegistry(); // registers the worker's answer to the primary's collection requests
  AggregatorRegistry.setRegistries([registry]);
  const pending = new Map<number, { resolve(text: string): void; reject(err: Error): void }>();
  let next = 0;
  process.on('message', (m: Message) => {
    if (m.type !== 'recsys:metrics') return;
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.text !== undefined) p?.resolve(m.text);
    else p?.reject(new Error(m.error ?? 'no metrics'));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      process.send?.({ type: 'recsys:metrics-request', id } satisfies Message);
    });
}

/** In a worker: tells the primary it answers requests now. */
export function reportReady(): void {
  process.send?.({ type: 'recsys:ready' } satisfies Message);
}

/** In a worker: tells the primary why it could not start (the primary prints the one line). */
export function reportFailed(message: string, exitCode: number): void {
  process.send?.({ type: 'recsys:failed', message, exitCode } satisfies Message);
}
