/**
 * Serving load benchmark (issue 10): `recsys serve` on a pipeline run's artifacts, loaded by
 * autocannon at several concurrencies, for three kinds of request:
 *   cache    GET /recommend/:userId, answered from Redis (`serve --redis` after `recsys publish`
 *            of the batch export into a real redis-server started here on a free loopback port);
 *   live     GET /recommend/:userId through the live funnel (no Redis, in-process cache off);
 *   history  POST /recommend {"history": [5-20 known item ids], "k": 10}.
 * Every request draws a new random training user or history (seeded), and the server runs with
 * `--lru-size 0`, so no cache other than Redis answers. Per (kind, concurrency): a short warm-up, then `--runs` runs of `--seconds`,
 * and their median; the live funnel at concurrency 8 also runs once for `--headline-seconds`
 * (the 2-minute run of the issue's targets). Latency is the client's (request written to
 * response read), every response kept, exact percentiles. The server's RSS (its process and
 * descendants, /proc/PID/status VmRSS) is sampled every second; its /metrics are read before and
 * after each run, and the per-stage latency histograms are differenced to say where time goes.
 * With --profile N, the ranker's live funnel is then also timed in this process for N random
 * training users one at a time, without HTTP: each candidate channel apart, and every stage.
 *
 *   flock /tmp/recsys-bench.lock npx vite-node scripts/bench/serve.ts --dir /work/bench-small \
 *     --label ml-latest-small [--model ranker-temporal-user] [--runs 3] [--seconds 15] \
 *     [--headline-seconds 120] [--concurrency 1,8,64] [--kinds cache,live,history] [--profile 300] [--serve-args=...]
 *   npx vite-node scripts/bench/serve.ts --write-doc        # the "Serving" section from all results
 *
 * --dir is the working directory of the pipeline run (its paths, e.g. the dataset a split
 * names, are relative to it); its artifacts are under DIR/artifacts. Results are kept as JSON in
 * .tmp/bench/serve/LABEL.json; --write-doc rewrites the section of docs/benchmarks.md from them.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { readManifest } from '../../src/artifacts/store.js';
import { readNumericParquet } from '../../src/data/parquet.js';
import { loadServingModel } from '../../src/pipeline/serving.js';
import { retrieve } from '../../src/rank/channels/channel.js';
import { RankerModel } from '../../src/rank/ranker.js';
import { writeFileAtomic } from '../../src/util/fs.js';
import { Rng } from '../../src/util/rng.js';
import { freeLoopbackPort, startRedisServer } from '../../test/serve/redis-server.js';
import { gitShort, machineLine, median, RECSYS, writeSection } from './lib.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const RESULTS = join(ROOT, '.tmp', 'bench', 'serve');
const K = 10;
const WARM_UP_SECONDS = 3;
const HEADLINE = { kind: 'live', connections: 8 } as const;

type Kind = 'cache' | 'live' | 'history';
const KINDS: readonly Kind[] = ['cache', 'live', 'history'];

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string' },
    label: { type: 'string' },
    model: { type: 'string', default: 'ranker-temporal-user' },
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '15' },
    'headline-seconds': { type: 'string', default: '120' },
    concurrency: { type: 'string', default: '1,8,64' },
    kinds: { type: 'string', default: KINDS.join(',') },
    'serve-args': { type: 'string', default: '' },
    seed: { type: 'string', default: '42' },
    profile: { type: 'string', default: '0' },
    'write-doc': { type: 'boolean', default: false },
  },
});

/** Latency percentiles in milliseconds, requests per second, failures, and which path answered. */
interface RunResult {
  readonly seconds: number;
  readonly requests: number;
  readonly rps: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  /** Connection errors and timeouts. */
  readonly errors: number;
  readonly non2xx: number;
  readonly paths: Record<string, number>;
  /** Server RSS (MiB): at the start of the run, the largest sample during it, at its end. */
  readonly rss: { readonly start: number; readonly max: number; readonly end: number };
  /** Per histogram series changed by the run: count and seconds summed, and its buckets. */
  readonly histograms: HistogramDiff[];
}

interface CellResult {
  readonly kind: Kind;
  readonly connections: number;
  readonly headline: boolean;
  readonly runs: RunResult[];
}

interface ServerInfo {
  readonly kind: 'cache' | 'plain';
  readonly argv: string[];
  readonly readySeconds: number;
  /** RSS samples (MiB) every second from ready to stop, and the seconds since ready of each. */
  readonly rss: Array<[number, number]>;
}

interface DatasetResult {
  readonly label: string;
  readonly at: string;
  readonly commit: string;
  readonly machine: string;
  readonly loadavgStart: number[];
  readonly loadavgEnd: number[];
  readonly command: string;
  readonly model: string;
  readonly version: string;
  readonly users: number;
  readonly items: number;
  /** Null when the cache was not measured. */
  readonly publishSeconds: number | null;
  readonly servers: ServerInfo[];
  readonly cells: CellResult[];
  readonly profile: StageProfile[];
}

/** One part of the live funnel timed in-process, milliseconds. */
interface StageProfile {
  readonly stage: string;
  readonly calls: number;
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

// ---------- Prometheus text: histogram series, differenced between two scrapes ----------

interface HistogramSeries {
  /** Metric name without _bucket/_sum/_count, and its labels except `le`. */
  readonly key: string;
  readonly name: string;
  readonly labels: string;
  count: number;
  sum: number;
  /** Cumulative counts by upper bound (seconds), ascending. */
  buckets: Array<[number, number]>;
}

interface HistogramDiff {
  readonly name: string;
  readonly labels: string;
  readonly count: number;
  readonly sum: number;
  readonly buckets: Array<[number, number]>;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;

function parseHistograms(text: string): Map<string, HistogramSeries> {
  const series = new Map<string, HistogramSeries>();
  for (const line of text.split('\n')) {
    const m = SAMPLE_LINE.exec(line);
    if (!m) continue;
    const [, metric, labelText = '', valueText] = m;
    const suffix = /_(bucket|sum|count)$/.exec(metric);
    if (!suffix) continue;
    const name = metric.slice(0, -suffix[0].length);
    const labelPairs = labelText.match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? [];
    const le = labelPairs.find((p) => p.startsWith('le='));
    const labels = labelPairs.filter((p) => !p.startsWith('le=')).join(',');
    const key = `${name}{${labels}}`;
    let s = series.get(key);
    if (!s) {
      s = { key, name, labels, count: 0, sum: 0, buckets: [] };
      series.set(key, s);
    }
    const value = Number(valueText);
    if (suffix[1] === 'sum') s.sum = value;
    else if (suffix[1] === 'count') s.count = value;
    else if (le) s.buckets.push([le.slice(4, -1) === '+Inf' ? Number.POSITIVE_INFINITY : Number(le.slice(4, -1)), value]);
  }
  // Summaries also end in _sum/_count: keep histograms only.
  for (const [key, s] of series) if (s.buckets.length === 0) series.delete(key);
  return series;
}

function diffHistograms(before: Map<string, HistogramSeries>, after: Map<string, HistogramSeries>): HistogramDiff[] {
  const out: HistogramDiff[] = [];
  for (const [key, a] of after) {
    const b = before.get(key);
    const count = a.count - (b?.count ?? 0);
    if (count <= 0) continue;
    const earlier = new Map(b?.buckets ?? []);
    out.push({
      name: a.name,
      labels: a.labels,
      count,
      sum: a.sum - (b?.sum ?? 0),
      buckets: a.buckets.map(([le, c]) => [le, c - (earlier.get(le) ?? 0)]),
    });
  }
  return out;
}

/** The q-quantile (seconds) of a histogram, interpolated linearly inside its bucket (as PromQL does). */
function histogramQuantile(h: HistogramDiff, q: number): number {
  const rank = q * h.count;
  let lower = 0;
  let below = 0;
  for (const [le, c] of h.buckets) {
    if (c >= rank) {
      if (!Number.isFinite(le)) return lower;
      return lower + ((le - lower) * (rank - below)) / Math.max(c - below, 1);
    }
    lower = le;
    below = c;
  }
  return lower;
}

// ---------- the server process ----------

/** VmRSS (MiB) of a process and all its descendants (a cluster's workers), 0 once it is gone. */
function treeRssMiB(pid: number): number {
  let kib = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop() as number;
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      kib += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      for (const task of readdirSync(`/proc/${p}/task`)) {
        const children = readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        if (children) stack.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // the process ended between two reads
    }
  }
  return kib / 1024;
}

interface RunningServer {
  readonly url: string;
  readonly pid: number;
  readonly argv: string[];
  readonly readySeconds: number;
  rssNow(): number;
  /** Samples since ready, [seconds, MiB]. */
  readonly rss: Array<[number, number]>;
  stop(): Promise<void>;
}

async function startServer(dir: string, model: string, extra: string[], logPath: string): Promise<RunningServer> {
  const port = await freeLoopbackPort();
  const argv = ['serve', '--model', model, '--port', String(port), ...extra];
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, [RECSYS, ...argv], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logPath);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const url = `http://127.0.0.1:${port}`;
  const pid = child.pid as number;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (;;) {
    if (child.exitCode !== null) throw new Error(`recsys ${argv.join(' ')} exited with ${child.exitCode}; see ${logPath}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (performance.now() - started > 20 * 60_000) throw new Error(`recsys serve not ready after 20 minutes; see ${logPath}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const readyAt = performance.now();
  const rss: Array<[number, number]> = [];
  const sample = (): void => {
    rss.push([(performance.now() - readyAt) / 1000, treeRssMiB(pid)]);
  };
  sample();
  const timer = setInterval(sample, 1000);
  return {
    url,
    pid,
    argv,
    readySeconds: (readyAt - started) / 1000,
    rssNow: () => treeRssMiB(pid),
    rss,
    stop: async () => {
      clearInterval(timer);
      child.kill('SIGTERM');
      await exited;
    },
  };
}

// ---------- load ----------

interface Workload {
  readonly users: Int32Array;
  /** Item ids of the training interactions: drawing from them draws items by popularity. */
  readonly interactionItems: Int32Array;
}

function requestFor(kind: Kind, w: Workload, rng: Rng): autocannon.Request {
  if (kind === 'history') {
    const length = 5 + rng.int(16);
    const history = new Set<number>();
    while (history.size < length) history.add(w.interactionItems[rng.int(w.interactionItems.length)]);
    return {
      method: 'POST',
      path: '/recommend',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ history: [...history], k: K }),
    };
  }
  return { method: 'GET', path: `/recommend/${w.users[rng.int(w.users.length)]}?k=${K}` };
}

const PATH_FIELD = /"path":"([a-z]+)"/;

async function load(server: RunningServer, kind: Kind, connections: number, seconds: number, w: Workload, rng: Rng): Promise<RunResult> {
  const metricsBefore = parseHistograms(await (await fetch(`${server.url}/metrics`)).text());
  const rssFrom = server.rss.length;
  const rssStart = server.rssNow();
  const latencies: number[] = [];
  const paths: Record<string, number> = {};
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: server.url,
        connections,
        duration: seconds,
        timeout: 10,
        requests: [
          {
            setupRequest: (req) => ({ ...req, ...requestFor(kind, w, rng) }),
            onResponse: (_status, body) => {
              const path = PATH_FIELD.exec(body)?.[1] ?? 'none';
              paths[path] = (paths[path] ?? 0) + 1;
            },
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client, _status, _bytes, ms) => latencies.push(ms));
  });
  const rssEnd = server.rssNow();
  const metricsAfter = parseHistograms(await (await fetch(`${server.url}/metrics`)).text());
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  const during = server.rss.slice(rssFrom).map(([, mib]) => mib);
  return {
    seconds: result.duration,
    requests: latencies.length,
    rps: latencies.length / result.duration,
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    max: latencies[latencies.length - 1] ?? Number.NaN,
    errors: result.errors,
    non2xx: result.non2xx,
    paths,
    rss: { start: rssStart, max: Math.max(rssStart, rssEnd, ...during), end: rssEnd },
    histograms: diffHistograms(metricsBefore, metricsAfter),
  };
}

async function benchKind(
  server: RunningServer,
  kind: Kind,
  concurrencies: number[],
  w: Workload,
  rng: Rng,
  opts: { runs: number; seconds: number; headlineSeconds: number },
): Promise<CellResult[]> {
  const cells: CellResult[] = [];
  for (const connections of concurrencies) {
    await load(server, kind, connections, WARM_UP_SECONDS, w, rng);
    const runs: RunResult[] = [];
    for (let r = 0; r < opts.runs; r++) {
      runs.push(await load(server, kind, connections, opts.seconds, w, rng));
      console.log(`${kind} c=${connections} run ${r + 1}: ${summary(runs[r])}`);
    }
    cells.push({ kind, connections, headline: false, runs });
    if (kind === HEADLINE.kind && connections === HEADLINE.connections && opts.headlineSeconds > 0) {
      const headline = await load(server, kind, connections, opts.headlineSeconds, w, rng);
      console.log(`${kind} c=${connections} ${opts.headlineSeconds} s: ${summary(headline)}`);
      cells.push({ kind, connections, headline: true, runs: [headline] });
    }
  }
  return cells;
}

const ms = (v: number): string => (v < 10 ? v.toFixed(2) : v.toFixed(1));
const summary = (r: RunResult): string =>
  `${r.requests} requests, ${r.rps.toFixed(0)}/s, p50 ${ms(r.p50)} p95 ${ms(r.p95)} p99 ${ms(r.p99)} ms, errors ${r.errors}, non-2xx ${r.non2xx}, paths ${JSON.stringify(r.paths)}, RSS ${r.rss.start.toFixed(0)}→${r.rss.end.toFixed(0)} MiB`;

// ---------- the funnel in-process ----------

/**
 * The ranker's funnel for `calls` random training users, one user per call as the server runs
 * it, after as many untimed calls (at most 100): every channel's retrieval apart (the
 * "candidates" stage is their sum plus the merge), then the whole funnel with its own stage
 * timings. Loaded as the server loads it.
 */
async function profileFunnel(versionDir: string, calls: number, rng: Rng): Promise<StageProfile[]> {
  const m = await loadServingModel(versionDir);
  try {
    const model = m.model;
    if (!(model instanceof RankerModel)) return [];
    const { funnel, gbdt } = model;
    const times = new Map<string, number[]>();
    let warmingUp = true;
    const add = (stage: string, msTaken: number): void => {
      if (warmingUp) return;
      const list = times.get(stage) ?? [];
      list.push(msTaken);
      times.set(stage, list);
    };
    // The first calls (JIT tier-up, first touch of the model's pages) are not timed.
    for (let i = -Math.min(calls, 100); i < calls; i++) {
      warmingUp = i < 0;
      const user = Int32Array.of(rng.int(model.users.size));
      for (const channel of funnel.channels) {
        const started = performance.now();
        retrieve(channel, user, funnel.settings.candidates, m.seen);
        add(`channel ${channel.name} (${channel.index ? 'FAISS' : 'its own recommend'})`, performance.now() - started);
      }
      const started = performance.now();
      const out = funnel.run(user, K, m.seen, gbdt);
      add('whole funnel', performance.now() - started);
      for (const [stage, seconds] of Object.entries(out.seconds)) add(stage, seconds * 1000);
    }
    return [...times].map(([stage, list]) => {
      const sorted = [...list].sort((a, b) => a - b);
      const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
      return { stage, calls: list.length, mean: list.reduce((a, b) => a + b, 0) / list.length, p50: at(0.5), p95: at(0.95), p99: at(0.99) };
    });
  } finally {
    await m.close();
  }
}

// ---------- a dataset ----------

function artifactVersionDir(artifacts: string, name: string): string {
  const latest = join(artifacts, name, 'latest');
  if (!existsSync(latest)) throw new Error(`${latest}: no such artifact (run the pipeline first)`);
  return join(artifacts, name, readlinkSync(latest));
}

async function benchDataset(): Promise<void> {
  const dir = args.dir && resolve(args.dir);
  const label = args.label;
  if (!dir || !label) throw new Error('--dir and --label are required (or --write-doc)');
  if (!existsSync(RECSYS)) throw new Error(`${RECSYS} is missing: build first (npx tsc -p tsconfig.json)`);
  const artifacts = join(dir, 'artifacts');
  const model = artifactVersionDir(artifacts, args.model);
  const manifest = readManifest(model);
  const split = manifest.lineage.find((l) => l.name.startsWith('split-'));
  if (!split) throw new Error(`${model}: no split in its lineage`);
  const train = join(artifacts, split.name, split.version, 'train.parquet');
  const workload: Workload = {
    users: (await readNumericParquet(train, [{ name: 'user_id', as: 'int32' }], 'GROUP BY user_id')).user_id as Int32Array,
    interactionItems: (await readNumericParquet(train, [{ name: 'item_id', as: 'int32' }])).item_id as Int32Array,
  };
  const items = new Set(workload.interactionItems).size;
  console.log(`${label}: ${model}, ${workload.users.length} users, ${items} items`);
  const opts = { runs: Number(args.runs), seconds: Number(args.seconds), headlineSeconds: Number(args['headline-seconds']) };
  const concurrencies = (args.concurrency ?? '').split(',').map(Number);
  const kinds = (args.kinds ?? '').split(',') as Kind[];
  const serveArgs = (args['serve-args'] ?? '').split(/\s+/).filter((a) => a.length > 0);
  const rng = new Rng(Number(args.seed));
  mkdirSync(RESULTS, { recursive: true });
  const loadavgStart = loadavg();
  const servers: ServerInfo[] = [];
  const cells: CellResult[] = [];
  let publishSeconds: number | null = null;

  const serve = async (kind: ServerInfo['kind'], extra: string[], fn: (s: RunningServer) => Promise<void>): Promise<void> => {
    const argv = ['--lru-size', '0', ...serveArgs, ...extra];
    const server = await startServer(dir, model, argv, join(RESULTS, `${label}-${kind}.log`));
    console.log(`serve (${kind}) ready in ${server.readySeconds.toFixed(1)} s, RSS ${server.rssNow().toFixed(0)} MiB`);
    try {
      await fn(server);
    } finally {
      await server.stop();
      servers.push({ kind, argv: server.argv, readySeconds: server.readySeconds, rss: server.rss });
    }
  };

  if (kinds.includes('cache')) {
    const recs = join(artifactVersionDir(artifacts, `recs-${args.model}`), 'recs.parquet');
    const redis = await startRedisServer();
    try {
      const started = performance.now();
      const published = spawnSync(process.execPath, [RECSYS, 'publish', '--recs', recs, '--redis', redis.url], {
        cwd: dir,
        encoding: 'utf8',
      });
      if (published.status !== 0) throw new Error(`recsys publish failed (${published.status}): ${published.stderr}`);
      publishSeconds = (performance.now() - started) / 1000;
      console.log(`published ${recs} in ${publishSeconds.toFixed(1)} s`);
      await serve('cache', ['--redis', redis.url], async (s) => {
        cells.push(...(await benchKind(s, 'cache', concurrencies, workload, rng, opts)));
      });
    } finally {
      await redis.stop();
    }
  }
  const plainKinds = kinds.filter((k) => k !== 'cache');
  if (plainKinds.length > 0)
    await serve('plain', [], async (s) => {
      for (const kind of plainKinds) cells.push(...(await benchKind(s, kind, concurrencies, workload, rng, opts)));
    });

  const calls = Number(args.profile);
  const commit = gitShort();
  process.chdir(dir); // the split's dataset folder is relative to the pipeline's working directory
  const profile = calls > 0 ? await profileFunnel(model, calls, rng) : [];
  const result: DatasetResult = {
    label,
    at: new Date().toISOString(),
    commit,
    machine: machineLine(),
    loadavgStart,
    loadavgEnd: loadavg(),
    command: `npx vite-node scripts/bench/serve.ts ${process.argv.slice(2).join(' ')}`,
    model: args.model ?? '',
    version: manifest.version,
    users: workload.users.length,
    items,
    publishSeconds,
    servers,
    cells,
    profile,
  };
  writeFileAtomic(join(RESULTS, `${label}.json`), `${JSON.stringify(result, null, 1)}\n`);
  console.log(cellTable([result]));
  console.log(stageTable(result));
  console.log(profileTable(result));
}

// ---------- the docs section ----------

const medianOf = (runs: RunResult[], f: (r: RunResult) => number): number => median(runs.map(f));
const sumOf = (runs: RunResult[], f: (r: RunResult) => number): number => runs.reduce((s, r) => s + f(r), 0);

function cellTable(results: DatasetResult[]): string {
  const rows = [
    '| data | request | connections | run | requests/s | p50 ms | p95 ms | p99 ms | max ms | errors + non-2xx | answered by | server RSS MiB start → end (max) |',
    '| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  for (const d of results)
    for (const c of d.cells) {
      const runs = c.runs;
      const paths: Record<string, number> = {};
      for (const r of runs) for (const [p, n] of Object.entries(r.paths)) paths[p] = (paths[p] ?? 0) + n;
      const total = sumOf(runs, (r) => r.requests);
      const pathText = Object.entries(paths)
        .sort((a, b) => b[1] - a[1])
        .map(([p, n]) => `${p} ${((100 * n) / total).toFixed(n === total ? 0 : 1)}%`)
        .join(', ');
      const runText = c.headline ? `one of ${runs[0].seconds.toFixed(0)} s` : `median of ${runs.length} × ${runs[0].seconds.toFixed(0)} s`;
      rows.push(
        `| ${d.label} | ${c.kind} | ${c.connections} | ${runText} | ${medianOf(runs, (r) => r.rps).toFixed(0)} | ${ms(medianOf(runs, (r) => r.p50))} | ${ms(medianOf(runs, (r) => r.p95))} | ${ms(medianOf(runs, (r) => r.p99))} | ${ms(Math.max(...runs.map((r) => r.max)))} | ${sumOf(runs, (r) => r.errors + r.non2xx)} of ${total} | ${pathText} | ${runs[0].rss.start.toFixed(0)} → ${runs[runs.length - 1].rss.end.toFixed(0)} (${Math.max(...runs.map((r) => r.rss.max)).toFixed(0)}) |`,
      );
    }
  return rows.join('\n');
}

/** Server-side histograms (stages, requests) summed over the measured runs of each request kind at one concurrency. */
function stageTable(d: DatasetResult, connections = HEADLINE.connections): string {
  const rows = [
    `| request (connections ${connections}) | histogram | labels | observations | mean ms | p50 ms | p95 ms | p99 ms |`,
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const c of d.cells.filter((x) => x.connections === connections && !x.headline)) {
    const merged = new Map<string, HistogramDiff>();
    for (const h of c.runs.flatMap((r) => r.histograms)) {
      const key = `${h.name}{${h.labels}}`;
      const m = merged.get(key);
      merged.set(
        key,
        m ? { ...m, count: m.count + h.count, sum: m.sum + h.sum, buckets: m.buckets.map(([le, n], i) => [le, n + h.buckets[i][1]]) } : h,
      );
    }
    for (const h of [...merged.values()].sort((a, b) => a.name.localeCompare(b.name) || b.sum - a.sum)) {
      // The benchmark's own scrapes of /metrics are not the load.
      if (!h.name.endsWith('_seconds') || h.labels.includes('route="/metrics"')) continue;
      const q = (p: number): string => ms(1000 * histogramQuantile(h, p));
      rows.push(
        `| ${c.kind} | ${h.name} | ${h.labels.replace(/"/g, '')} | ${h.count} | ${ms((1000 * h.sum) / h.count)} | ${q(0.5)} | ${q(0.95)} | ${q(0.99)} |`,
      );
    }
  }
  return rows.join('\n');
}

/** Start-up time and the RSS sampled every second from ready to stop (memory flat or not). */
function serverText(s: ServerInfo): string {
  const mib = s.rss.map(([, m]) => m);
  const last = s.rss[s.rss.length - 1] ?? [0, 0];
  return `${s.kind === 'cache' ? 'with --redis' : 'without Redis'} ready in ${s.readySeconds.toFixed(1)} s, RSS ${mib[0]?.toFixed(0)} MiB when ready, ${Math.min(...mib).toFixed(0)}–${Math.max(...mib).toFixed(0)} MiB over ${last[0].toFixed(0)} s of load (${mib.length} samples), ${last[1].toFixed(0)} MiB at the end`;
}

function profileTable(d: DatasetResult): string {
  if (d.profile.length === 0) return '';
  return [
    `${d.label}, in-process, one user per call (${d.profile[0].calls} random training users):`,
    '',
    '| part of the live funnel | mean ms | p50 ms | p95 ms | p99 ms |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...d.profile.map((p) => `| ${p.stage} | ${ms(p.mean)} | ${ms(p.p50)} | ${ms(p.p95)} | ${ms(p.p99)} |`),
  ].join('\n');
}

function writeDoc(): void {
  const results = readdirSync(RESULTS)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(RESULTS, f), 'utf8')) as DatasetResult)
    .sort((a, b) => a.users - b.users);
  const about = results
    .map(
      (d) =>
        `- ${d.label}: \`${d.model}\` version ${d.version} (${d.users.toLocaleString('en-US')} training users, ${d.items.toLocaleString('en-US')} items); ${d.at.slice(0, 16)} UTC, commit ${d.commit}, load average ${d.loadavgStart.map((l) => l.toFixed(2)).join(' ')} at the start, ${d.loadavgEnd.map((l) => l.toFixed(2)).join(' ')} at the end; \`${d.command}\`. Servers: ${d.servers.map(serverText).join('; ')}.${d.publishSeconds === null ? '' : ` \`recsys publish\` of the batch export: ${d.publishSeconds.toFixed(1)} s.`}`,
    )
    .join('\n');
  writeSection(
    'Serving',
    `Machine: ${results[0]?.machine ?? machineLine()}. The load generator (autocannon, one process) runs on the same 2 cores as the server.

${about}

${cellTable(results)}

Where the time goes (the server's own histograms from \`/metrics\`, differenced over the measured runs; quantiles interpolated inside buckets):

${results.map((d) => `${d.label}:\n\n${stageTable(d)}`).join('\n\n')}

The same funnel timed without HTTP or concurrency (\`--profile\`): each candidate channel apart (the "candidates" stage is their sum plus the merge of their lists), then every stage:

${results
  .map(profileTable)
  .filter((t) => t.length > 0)
  .join('\n\n')}`,
  );
}

if (args['write-doc']) writeDoc();
else await benchDataset();
