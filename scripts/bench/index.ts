/**
 * FAISS index benchmark: recall@10 vs query rate curves (IVF nprobe, HNSW efSearch) on 59k × 64
 * item vectors, and build times for 59k × 64 and 1M × 128, written to the "FAISS index"
 * section of docs/benchmarks.md.
 *
 *   flock /tmp/recsys-bench.lock npx vite-node scripts/bench/index.ts [--part curves|build-59k|build-1m|all]
 *     [--items-npy F --queries-npy F --label TEXT]  (real factors, e.g. an ALS artifact's
 *     item_factors.npy and user_factors.npy, in place of the generated 59k vectors)
 *
 * Each build runs in a child process so its peak RSS is its own. Results are kept as JSON in
 * .tmp/bench/index/ and the section is rewritten from all results there, so parts can run apart.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readNpyFloat32 } from '../../src/artifacts/npy.js';
import type { SearchParams } from '../../src/index/ann-index.js';
import { buildIndex, type BuildStats } from '../../src/index/build.js';
import { vectorsForIndex, wantsMipsTransform } from '../../src/index/mips.js';
import { clusteredVectors } from '../../src/index/clustered-vectors.js';
import { writeIndex } from '../../src/index/io.js';
import { exactBaseline, measureIndex, queryRates, type ExactBaseline, type QueryRates } from '../../src/index/measure.js';
import { faissThreads } from '../../src/index/native.js';
import { sampleRows } from '../../src/index/vectors.js';
import type { Embeddings } from '../../src/matrix/embeddings.js';
import { writeFileAtomic } from '../../src/util/fs.js';
import { Rng } from '../../src/util/rng.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RESULTS = join(ROOT, '.tmp', 'bench', 'index');
const DOC = join(ROOT, 'docs', 'benchmarks.md');
const SECTION = '## FAISS index';
const K = 10;
const QUERIES = 1000;
const RUNS = 3;

/** The vectors a case runs on: generated (seeded, clustered) or read from .npy files. */
interface DataSpec {
  readonly rows: number;
  readonly dim: number;
  readonly clusters: number;
  readonly itemsNpy?: string;
  readonly queriesNpy?: string;
  /** What the .npy vectors are, for the section's headings. */
  readonly label?: string;
}

interface BuildCase {
  readonly data: DataSpec;
  readonly factory: string;
  readonly params: SearchParams;
  readonly runs: number;
}

interface BuildResult {
  readonly case: BuildCase;
  readonly seconds: { convert: number; train: number; add: number; total: number };
  readonly trainRows: number;
  readonly bytes: number;
  readonly recall: number;
  readonly rates: QueryRates;
  readonly exact: QueryRates;
  readonly peakRssMb: number;
  readonly threads: number;
}

interface CurvePoint {
  readonly factory: string;
  readonly params: SearchParams;
  readonly recall: number;
  readonly rates: QueryRates;
}

interface CurveResult {
  readonly data: DataSpec;
  readonly exact: QueryRates;
  readonly points: CurvePoint[];
  readonly builds: Record<string, number>;
  readonly threads: number;
}

const DATA_59K: DataSpec = { rows: 59_047, dim: 64, clusters: 500 };
const DATA_1M: DataSpec = { rows: 1_000_000, dim: 128, clusters: 2000 };

function loadData(spec: DataSpec): { items: Embeddings; queries: Embeddings } {
  if (spec.itemsNpy && spec.queriesNpy) {
    const asEmbeddings = (path: string): Embeddings => {
      const { data, shape } = readNpyFloat32(path);
      return { rows: shape[0], dim: shape[1], data };
    };
    return { items: asEmbeddings(spec.itemsNpy), queries: sampleRows(asEmbeddings(spec.queriesNpy), QUERIES, new Rng(2)) };
  }
  const shape = { dim: spec.dim, clusters: spec.clusters, centreSeed: 2024 };
  return {
    items: clusteredVectors({ ...shape, rows: spec.rows, seed: 1 }),
    queries: clusteredVectors({ ...shape, rows: QUERIES, seed: 2 }),
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function medianRates(runs: QueryRates[]): QueryRates {
  return { singleQps: median(runs.map((r) => r.singleQps)), batchedQps: median(runs.map((r) => r.batchedQps)) };
}

function medianBaseline(items: Embeddings, queries: Embeddings, singleQueries: number): ExactBaseline {
  const first = exactBaseline(items, queries, K, 'ip', { singleQueries });
  const { index } = buildIndex(items, { factory: 'Flat' });
  const more = Array.from({ length: RUNS - 1 }, () => queryRates(index, queries, K, { singleQueries }));
  return { ...first, rates: medianRates([first.rates, ...more]) };
}

/** Child process: builds one case `runs` times, measures the last build. */
function runBuild(task: BuildCase): BuildResult {
  const { items, queries } = loadData(task.data);
  const c = { ...task, data: { ...task.data, rows: items.rows, dim: items.dim } };
  // As `recsys index` builds it: IVF over inner products on the MIPS→L2 transform.
  const vectors = vectorsForIndex(items, 'ip', wantsMipsTransform(c.factory, items.dim, 'ip', 'auto'));
  const stats: BuildStats[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'recsys-bench-index-'));
  try {
    let last = null;
    for (let r = 0; r < c.runs; r++) {
      last = buildIndex(vectors.items, { factory: c.factory, metric: vectors.metric, ...c.params });
      stats.push(last.stats);
    }
    const bytes = writeIndex(last!.index, join(dir, 'index.faiss'));
    const singleQueries = c.data.rows > 200_000 ? 50 : 200;
    const measurement = measureIndex(last!.index, medianBaseline(items, queries, singleQueries), vectors.prepareQueries(queries), K, {
      singleQueries,
    });
    const secs = (key: keyof BuildStats['seconds']): number => median(stats.map((s) => s.seconds[key]));
    return {
      case: c,
      seconds: { convert: secs('convert'), train: secs('train'), add: secs('add'), total: secs('total') },
      trainRows: stats[0].trainRows,
      bytes,
      recall: measurement.recall,
      rates: measurement.index,
      exact: measurement.exact,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      threads: faissThreads(),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Child process: recall and query rates along nprobe (IVF) and efSearch (HNSW). */
function runCurves(spec: DataSpec): CurveResult {
  const { items, queries } = loadData(spec);
  const data = { ...spec, rows: items.rows, dim: items.dim };
  const baseline = medianBaseline(items, queries, 200);
  const points: CurvePoint[] = [];
  const builds: Record<string, number> = {};
  // IVF over inner products is built as `recsys index` builds it: on the MIPS→L2 transform.
  const sweep = (factory: string, settings: SearchParams[], mips = false): void => {
    const vectors = vectorsForIndex(items, 'ip', mips);
    const { index, stats } = buildIndex(vectors.items, { factory, metric: vectors.metric });
    const searched = vectors.prepareQueries(queries);
    const label = mips ? `${factory} (MIPS→L2)` : factory;
    builds[label] = stats.seconds.total;
    for (const params of settings) {
      index.setSearchParams(params);
      const runs = Array.from({ length: RUNS }, () => measureIndex(index, baseline, searched, K));
      points.push({ factory: label, params, recall: runs[0].recall, rates: medianRates(runs.map((m) => m.index)) });
      process.stderr.write(`${label} ${JSON.stringify(params)} recall ${runs[0].recall.toFixed(4)}\n`);
    }
  };
  sweep(
    'IVF1024,Flat',
    [1, 2, 4, 8, 16, 32, 64, 128, 256].map((nprobe) => ({ nprobe })),
  );
  sweep(
    'IVF256,Flat',
    [1, 2, 4, 8, 16, 32, 64].map((nprobe) => ({ nprobe })),
  );
  sweep(
    'IVF1024,Flat',
    [8, 16, 32, 64, 128].map((nprobe) => ({ nprobe })),
    true,
  );
  sweep(
    'IVF256,Flat',
    [4, 8, 16, 32, 64].map((nprobe) => ({ nprobe })),
    true,
  );
  sweep(
    'HNSW32',
    [16, 32, 64, 128, 256, 512].map((efSearch) => ({ efSearch })),
  );
  sweep(
    'IVF256,PQ16np',
    [4, 16, 64].map((nprobe) => ({ nprobe })),
  );
  return { data, exact: baseline.rates, points, builds, threads: faissThreads() };
}

/** Runs `task` in a child process (own peak RSS) and returns its JSON result. */
function inChild<T>(task: { build?: BuildCase; curves?: DataSpec }): T {
  const viteNode = join(ROOT, 'node_modules', 'vite-node', 'vite-node.mjs');
  const child = spawnSync(process.execPath, [viteNode, join(ROOT, 'scripts', 'bench', 'index.ts'), '--task', JSON.stringify(task)], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 26,
    env: { ...process.env, RECSYS_QUIET: '1' },
  });
  if (child.status !== 0) throw new Error(`benchmark child failed (${child.status}): ${JSON.stringify(task)}`);
  const lines = child.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}

function saveResult(name: string, value: unknown): void {
  mkdirSync(RESULTS, { recursive: true });
  writeFileAtomic(
    join(RESULTS, `${name}.json`),
    `${JSON.stringify({ at: new Date().toISOString(), loadavg: loadavg(), value }, null, 2)}\n`,
  );
}

function loadResult<T>(name: string): { at: string; loadavg: number[]; value: T } | null {
  const path = join(RESULTS, `${name}.json`);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as { at: string; loadavg: number[]; value: T }) : null;
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const paramText = (p: SearchParams): string =>
  p.nprobe !== undefined ? `nprobe ${p.nprobe}` : p.efSearch !== undefined ? `efSearch ${p.efSearch}` : '';

function buildCases(data: DataSpec, runs: number): BuildCase[] {
  const large = data.rows > 200_000;
  return [
    { data, factory: 'Flat', params: {}, runs },
    { data, factory: large ? 'IVF4096,Flat' : 'IVF1024,Flat', params: { nprobe: large ? 64 : 32 }, runs },
    { data, factory: 'HNSW32', params: { efSearch: 128 }, runs },
    { data, factory: large ? 'IVF4096,PQ32np' : 'IVF256,PQ16np', params: { nprobe: 32 }, runs },
  ];
}

function curvesMarkdown(curves: { at: string; loadavg: number[]; value: CurveResult }): string[] {
  const { value: c } = curves;
  const out = [
    `### Recall@10 and query rate, ${fmt(c.data.rows)} × ${c.data.dim}${c.data.label ? `, ${c.data.label}` : ', clustered synthetic vectors'}`,
    '',
    `${c.data.itemsNpy ? `Items: ${c.data.itemsNpy}; queries: ${QUERIES} rows sampled (seed 2) from ${c.data.queriesNpy}.` : `Seeded clustered vectors (\`clusteredVectors\`, ${c.data.clusters} clusters of Zipf-like sizes, log-normal norms), ${QUERIES} queries drawn around the same centres.`} ` +
      `Recall@10 against exact inner-product search (FAISS Flat, checked against numpy in test/index). ` +
      `Single: one query per call on one thread; batched: all ${QUERIES} queries in one call on ${c.threads} threads. Median of ${RUNS} timings of at least 0.3 s. Run ${curves.at.slice(0, 16)}, load average ${curves.loadavg.map((l) => l.toFixed(2)).join(' ')}.`,
    '',
    `Exact search (Flat, inner product): ${fmt(c.exact.singleQps)} queries/s single, ${fmt(c.exact.batchedQps)} batched.`,
    '',
    '| index | setting | recall@10 | single q/s | × exact | batched q/s | × exact |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const p of c.points) {
    out.push(
      `| ${p.factory} | ${paramText(p.params)} | ${p.recall.toFixed(4)} | ${fmt(p.rates.singleQps)} | ${(p.rates.singleQps / c.exact.singleQps).toFixed(1)} | ${fmt(p.rates.batchedQps)} | ${(p.rates.batchedQps / c.exact.batchedQps).toFixed(1)} |`,
    );
  }
  const goal = c.points.filter((p) => p.factory.startsWith('IVF') && p.factory.includes(',Flat') && p.recall >= 0.95);
  const best = goal.sort((a, b) => b.rates.singleQps - a.rates.singleQps)[0];
  out.push('');
  out.push(
    best
      ? `Goal (IVF, recall@10 ≥ 0.95 at ≥ 10× the exact query rate): ${best.factory} at ${paramText(best.params)} gives recall ${best.recall.toFixed(4)} at ` +
          `${(best.rates.singleQps / c.exact.singleQps).toFixed(1)}× exact single-query and ${(best.rates.batchedQps / c.exact.batchedQps).toFixed(1)}× exact batched.`
      : 'Goal (IVF, recall@10 ≥ 0.95 at ≥ 10× the exact query rate): no IVF setting reached recall 0.95.',
  );
  out.push('');
  return out;
}

function buildsMarkdown(title: string, builds: { at: string; loadavg: number[]; value: BuildResult[] }): string[] {
  const { value: rows } = builds;
  const d = rows[0].case.data;
  const out = [
    `### Build, ${title}: ${fmt(d.rows)} × ${d.dim}${d.label ? `, ${d.label}` : ''}`,
    '',
    `Median of ${rows[0].case.runs} build(s) in one child process each (peak RSS is that process's, including ~100 MB of Node and vite-node, and the ${fmt((d.rows * d.dim * 4) / 2 ** 20)} MB of input vectors). ` +
      `Convert: preparing the training sample (vectors go to FAISS as typed arrays, no copy); train: FAISS training on that sample; add: adding all vectors in 65,536-row chunks. ` +
      `IVF indexes are built as \`recsys index\` builds them: on the MIPS→L2 transform (one extra dimension), except IVF-PQ, whose M must divide the dimension. Recall@10 and query rates of the built index on ${QUERIES} queries as above. ${rows[0].threads} FAISS threads. Run ${builds.at.slice(0, 16)}, load average ${builds.loadavg.map((l) => l.toFixed(2)).join(' ')}.`,
    '',
    '| factory | setting | train rows | convert s | train s | add s | total s | file MB | recall@10 | single q/s | batched q/s | peak RSS MB |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    out.push(
      `| ${r.case.factory} | ${paramText(r.case.params)} | ${fmt(r.trainRows)} | ${r.seconds.convert.toFixed(3)} | ${r.seconds.train.toFixed(2)} | ${r.seconds.add.toFixed(2)} | ${r.seconds.total.toFixed(2)} | ${(r.bytes / 2 ** 20).toFixed(1)} | ${r.recall.toFixed(4)} | ${fmt(r.rates.singleQps)} | ${fmt(r.rates.batchedQps)} | ${fmt(r.peakRssMb)} |`,
    );
  }
  out.push(
    '',
    `Exact search on these vectors: ${fmt(rows[0].exact.singleQps)} queries/s single, ${fmt(rows[0].exact.batchedQps)} batched.`,
    '',
  );
  return out;
}

function writeSection(): void {
  const lines = [
    SECTION,
    '',
    `Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Debian 12, Node ${process.versions.node}; ` +
      'FAISS 1.7.3 from Debian (libfaiss-dev, OpenBLAS) through faiss-node 0.5.1 built by scripts/setup.d/20-faiss.sh. ' +
      'Command: `flock /tmp/recsys-bench.lock npx vite-node scripts/bench/index.ts` (after `make setup`). The machine is shared: the load average at the start of each run is given.',
    '',
  ];
  for (const name of ['curves-npy', 'curves-59k']) {
    const curves = loadResult<CurveResult>(name);
    if (curves) lines.push(...curvesMarkdown(curves));
  }
  for (const [name, title] of [
    ['build-npy', '59k items'],
    ['build-59k', '59k items'],
    ['build-1m', '1M items'],
  ]) {
    const builds = loadResult<BuildResult[]>(name);
    if (builds) lines.push(...buildsMarkdown(title, builds));
  }

  const doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '# Benchmarks\n';
  const start = doc.indexOf(`${SECTION}\n`);
  const section = `${lines.join('\n').trimEnd()}\n`;
  let next: string;
  if (start < 0) {
    next = `${doc.trimEnd()}\n\n${section}`;
  } else {
    const after = doc.indexOf('\n## ', start + SECTION.length);
    next = `${doc.slice(0, start)}${section}${after < 0 ? '' : `\n${doc.slice(after + 1)}`}`;
  }
  writeFileAtomic(DOC, next);
  process.stderr.write(`wrote the "${SECTION.slice(3)}" section of ${DOC}\n`);
}

function main(): void {
  const { values } = parseArgs({
    options: {
      task: { type: 'string' },
      part: { type: 'string', default: 'all' },
      'items-npy': { type: 'string' },
      'queries-npy': { type: 'string' },
      label: { type: 'string' },
    },
  });
  if (values.task) {
    const task = JSON.parse(values.task) as { build?: BuildCase; curves?: DataSpec };
    const result = task.build ? runBuild(task.build) : runCurves(task.curves!);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const npy = values['items-npy'] && values['queries-npy'];
  const real = npy
    ? { itemsNpy: values['items-npy'], queriesNpy: values['queries-npy'], label: values.label ?? 'vectors from .npy files' }
    : {};
  const suffix = npy ? 'npy' : '59k';
  const part = values.part;
  if (part === 'curves' || part === 'all') saveResult(`curves-${suffix}`, inChild<CurveResult>({ curves: { ...DATA_59K, ...real } }));
  if (part === 'build-59k' || part === 'all') {
    saveResult(
      `build-${suffix}`,
      buildCases({ ...DATA_59K, ...real }, RUNS).map((build) => inChild<BuildResult>({ build })),
    );
  }
  if (part === 'build-1m' || part === 'all')
    saveResult(
      'build-1m',
      buildCases(DATA_1M, 1).map((build) => inChild<BuildResult>({ build })),
    );
  writeSection();
}

main();
