/**
 * Two-tower training speed against the PyTorch peer (issue 11): one epoch (epochs 1, val_frac 0,
 * shipped defaults otherwise, seed 1) of recsys's two-tower model and of
 * ../shared/peers/two-tower/tt_peer.py on the same training rows, interleaved round by round
 * (recsys, PyTorch 1 thread, PyTorch 2 threads, recsys, ...), each run a fresh process holding
 * `flock /tmp/bench.lock`, with the load average before it and its peak RSS. Writes the section
 * "Two-tower training speed vs PyTorch" of docs/benchmarks.md.
 *   npx vite-node scripts/bench/two-tower-speed.ts [--data small|2m|25m|all] [--rounds 3] [--root DIR]
 *     [--synth25m DIR] [--peer DIR] [--write-only]
 * --data 25m: one run of each side with 2 threads on --synth25m (default data/synth-25m).
 * --write-only: rewrite the section from the kept results, running nothing.
 * --root: the checkout whose dist/ is benchmarked (default: this one). The data (and each data
 * set's results, from which the section is written) are kept in data/bench/two-tower-speed/ of
 * this checkout. Needs `apt-get install python3-torch python3-pandas` for the peer.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { parseArgs } from 'node:util';
import { makeDirs, tempPathFor, writeFileAtomic, writeJsonAtomic } from '../../src/util/fs.js';
import { gitShort, lastLine, machineLine, median, runLocked, writeSection, type LockedRun } from './lib.js';

const HERE = resolve(new URL('../..', import.meta.url).pathname);
const CACHE = join(HERE, 'data/bench/two-tower-speed');
const LOCK = '/tmp/bench.lock';
const SEED = 1;
const SECTION = 'Two-tower training speed vs PyTorch';
const DATA_KEYS = ['small', '2m', '25m'] as const;
type DataKey = (typeof DATA_KEYS)[number];

const USAGE = 'usage: two-tower-speed.ts [--data small|2m|25m|all] [--rounds N] [--root DIR] [--synth25m DIR] [--peer DIR] [--write-only]';

/** Bad options: one line and exit code 2. */
function refuse(message: string): never {
  console.error(`two-tower-speed: ${message}`);
  process.exit(2);
}

const parseOptions = () =>
  parseArgs({
    options: {
      data: { type: 'string', default: 'all' },
      rounds: { type: 'string', default: '3' },
      root: { type: 'string', default: HERE },
      synth25m: { type: 'string' },
      peer: { type: 'string', default: join(HERE, '../shared/peers/two-tower') },
      'write-only': { type: 'boolean', default: false },
    },
  }).values;

function options() {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions();
  } catch (err) {
    refuse(`${(err as Error).message}\n${USAGE}`);
  }
  const data = parsed.data === 'all' ? [...DATA_KEYS] : [parsed.data];
  for (const d of data) if (!(DATA_KEYS as readonly string[]).includes(d)) refuse(`--data ${d}: expected small, 2m, 25m or all`);
  const rounds = Number(parsed.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) refuse(`--rounds ${parsed.rounds}: expected a positive integer`);
  const root = resolve(parsed.root);
  if (!parsed['write-only'] && !existsSync(join(root, 'dist/cli/bin.js'))) refuse(`${root}/dist/cli/bin.js: absent (build it: make setup)`);
  return {
    data: data as DataKey[],
    rounds,
    root,
    synth25m: resolve(parsed.synth25m ?? join(HERE, 'data/synth-25m')),
    peer: resolve(parsed.peer),
    writeOnly: parsed['write-only'],
  };
}

/** A data set of the benchmark: where it lives, how it is made, and who runs on it. */
interface DataSpec {
  readonly key: DataKey;
  readonly title: string;
  readonly dataDir: string;
  /** CLI arguments that create dataDir, or null when it must exist already. */
  readonly create: string[] | null;
  readonly splitDir: string;
  /** The peer's CSVs. */
  readonly csvDir: string;
  /** Runs per configuration. */
  readonly rounds: number;
  /** Thread counts of each side (recsys's only when its params have `threads`). */
  readonly recsysThreads: readonly number[];
  readonly peerThreads: readonly number[];
}

const SPLIT_ARGS = ['--strategy', 'temporal-user', '--frac', '0.8'];

function dataSpec(key: DataKey, opts: ReturnType<typeof options>): DataSpec {
  const dir = join(CACHE, key);
  switch (key) {
    case 'small':
      return {
        key,
        title: 'ml-latest-small, temporal-user 0.8 (with tags)',
        dataDir: join(dir, 'data'),
        create: ['data', 'import', '--in', join(HERE, '../shared/data/ml-latest-small'), '--out', join(dir, 'data')],
        splitDir: join(dir, 'split'),
        csvDir: join(dir, 'csv'),
        rounds: opts.rounds,
        recsysThreads: [1, 2],
        peerThreads: [1, 2],
      };
    case '2m':
      return {
        key,
        title: 'synthetic 2M, temporal-user 0.8',
        dataDir: join(dir, 'data'),
        create: [
          'data',
          'synth',
          '--users',
          '20000',
          '--items',
          '8000',
          '--interactions',
          '2000000',
          '--seed',
          '1',
          '--out',
          join(dir, 'data'),
        ],
        splitDir: join(dir, 'split'),
        csvDir: join(dir, 'csv'),
        rounds: opts.rounds,
        recsysThreads: [1, 2],
        peerThreads: [1, 2],
      };
    case '25m':
      return {
        key,
        title: 'synthetic 25M (`--synth25m`, default data/synth-25m), temporal-user 0.8, 2 threads each',
        dataDir: opts.synth25m,
        create: null,
        splitDir: join(dir, 'split'),
        csvDir: join(dir, 'csv'),
        // One run of each side's best configuration: an epoch takes minutes here.
        rounds: 1,
        recsysThreads: [2],
        peerThreads: [2],
      };
  }
}

/** What the recsys side and the peer are compared on: the training rows, in order. */
interface RowsFingerprint {
  readonly rows: number;
  readonly sha256: string;
}

/** What the preparation leaves for the runs. */
interface Prepared {
  readonly spec: DataSpec;
  readonly interactions: number;
  /** Of the peer's train.csv; null without a peer. */
  readonly csvRows: RowsFingerprint;
  readonly tags: boolean;
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/** One preparation command, under the lock too: it would disturb someone else's timing. */
function prepStep(argv: string[]): void {
  console.log(`  ${argv.join(' ')}`);
  checkRun(argv.join(' '), runLocked(argv, { lock: LOCK, cwd: HERE, env: { RECSYS_QUIET: '1' } }));
}

/**
 * Makes (once) the data set, its temporal-user 0.8 split and the peer's CSVs. A cached split
 * of other data (another --synth25m) is made again.
 */
function prepare(spec: DataSpec, root: string, peerDir: string): Prepared {
  const recsys = (args: string[]): string[] => [process.execPath, join(root, 'dist/cli/bin.js'), ...args];
  const meta = join(spec.dataDir, 'dataset.json');
  if (!existsSync(meta)) {
    if (!spec.create) refuse(`${meta}: absent; pass --synth25m DIR (a dataset written by \`recsys data synth --out DIR\`)`);
    rmSync(spec.dataDir, { recursive: true, force: true });
    prepStep(recsys(spec.create));
  }
  const dataset = readJson<{ interactions_sha256: string; counts: { interactions: number } }>(meta);
  const splitJson = join(spec.splitDir, 'split.json');
  const splitOf = (): string | null =>
    existsSync(splitJson) ? readJson<{ input: { interactions_sha256: string } }>(splitJson).input.interactions_sha256 : null;
  if (splitOf() !== dataset.interactions_sha256) {
    rmSync(spec.splitDir, { recursive: true, force: true });
    rmSync(spec.csvDir, { recursive: true, force: true });
    prepStep(recsys(['split', '--data', spec.dataDir, ...SPLIT_ARGS, '--out', spec.splitDir]));
  }
  const tags = existsSync(join(spec.dataDir, 'tags.parquet'));
  const csvDir = spec.csvDir;
  const exports: Array<[string, string]> = [
    [join(spec.splitDir, 'train.parquet'), 'train.csv'],
    [join(spec.dataDir, 'items.parquet'), 'items.csv'],
    ...(tags ? [[join(spec.dataDir, 'tags.parquet'), 'tags.csv'] as [string, string]] : []),
  ];
  makeDirs(csvDir);
  for (const [parquet, csv] of exports) {
    const out = join(csvDir, csv);
    if (existsSync(out)) continue;
    const tmp = `${tempPathFor(out)}.csv`;
    prepStep([process.execPath, join(peerDir, 'pq2csv.mjs'), parquet, tmp]);
    writeFileAtomic(out, readFileSync(tmp));
    rmSync(tmp);
  }
  const fingerprintFile = join(csvDir, 'train.fingerprint.json');
  if (!existsSync(fingerprintFile)) writeJsonAtomic(fingerprintFile, csvFingerprint(join(csvDir, 'train.csv')));
  return { spec, interactions: dataset.counts.interactions, csvRows: readJson<RowsFingerprint>(fingerprintFile), tags };
}

/** sha256 of `user,item,timestamp\n` per row, in file order: the recsys child hashes its training rows the same way. */
function csvFingerprint(path: string): RowsFingerprint {
  const hash = createHash('sha256');
  let cols: number[] | null = null;
  let rows = 0;
  let out = '';
  // Read in blocks: the 25M set's train.csv is larger than the longest string V8 makes.
  for (const line of csvLines(path)) {
    if (cols === null) {
      const header = line.split(',');
      cols = ['user_id', 'item_id', 'timestamp'].map((name) => header.indexOf(name));
      if (cols.some((c) => c < 0)) throw new Error(`${path}: header ${line} lacks user_id, item_id or timestamp`);
      continue;
    }
    if (line === '') continue;
    const f = line.split(',');
    out += `${f[cols[0]]},${f[cols[1]]},${f[cols[2]]}\n`;
    rows++;
    if (out.length > 1 << 16) {
      hash.update(out);
      out = '';
    }
  }
  hash.update(out);
  return { rows, sha256: hash.digest('hex') };
}

/** The lines of a text file, read 16 MiB at a time. */
function* csvLines(path: string): Generator<string> {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(1 << 24);
    // A decoder keeps a character split across two blocks whole.
    const decoder = new StringDecoder('utf8');
    let carry = '';
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) {
      const lines = (carry + decoder.write(buf.subarray(0, n))).split('\n');
      carry = lines.pop() ?? '';
      yield* lines;
    }
    if (carry !== '') yield carry;
  } finally {
    closeSync(fd);
  }
}

/** Seconds per epoch spent in each phase of a training step. */
interface Phases {
  readonly batch: number;
  readonly forward: number;
  readonly backward: number;
  readonly optimizer: number;
}
const PHASES = ['batch', 'forward', 'backward', 'optimizer'] as const;

interface RunRecord {
  readonly implementation: 'recsys' | 'pytorch';
  /** Threads asked for; null: recsys's shipped default (no threads parameter). */
  readonly threads: number | null;
  readonly round: number;
  readonly examplesPerSecond: number;
  readonly epochSeconds: number;
  readonly examples: number;
  readonly loss: number;
  readonly phases: Phases | null;
  readonly wallSeconds: number;
  readonly peakRssMiB: number;
  readonly loadavg: string;
  /** Backend (recsys) or torch version and threads (peer). */
  readonly detail: string;
}

/** Training rows, users and items as the implementation saw them. */
interface SeenData {
  readonly rows: number;
  readonly users: number;
  readonly items: number;
}

/**
 * The recsys child: loads the split through the benchmarked checkout's library (as
 * scripts/bench/two-tower.ts `throughput()` does), fits one epoch, and prints the epoch record,
 * the backend and the fingerprint of its training rows (computed after the fit: not timed).
 */
const RECSYS_CHILD = `
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
const [root, dataDir, splitDir, seed, overrides] = process.argv.slice(1);
const lib = (path) => import(pathToFileURL(root + '/dist/' + path).href);
const { prepareExperiment } = await lib('pipeline/experiment.js');
const { twoTowerFactory } = await lib('models/two-tower/model.js');
const exp = await prepareExperiment(dataDir, { dir: splitDir }, { seed: Number(seed), tags: true });
const m = await twoTowerFactory.fit(exp.training, twoTowerFactory.params.parse({ epochs: 1, val_frac: 0, ...JSON.parse(overrides) }));
const t = exp.training.train;
const hash = createHash('sha256');
let chunk = '';
for (let r = 0; r < t.userId.length; r++) {
  chunk += t.userId[r] + ',' + t.itemId[r] + ',' + t.timestamp[r] + '\\n';
  if (chunk.length > 1 << 16) { hash.update(chunk); chunk = ''; }
}
hash.update(chunk);
process.stdout.write(JSON.stringify({ epoch: m.training.final[0], backend: m.training.backend,
  rows: t.userId.length, users: exp.training.users.size, items: exp.training.items.size, sha256: hash.digest('hex') }));
`;

interface RecsysChildOutput {
  readonly epoch: { loss: number; seconds: number; examplesPerSecond: number; phases?: Record<string, number> };
  readonly backend: { name: string; simd: boolean | null; threads: number | null };
  readonly rows: number;
  readonly users: number;
  readonly items: number;
  readonly sha256: string;
}

interface PeerJson {
  readonly torch: string;
  readonly threads: number;
  readonly events: number;
  readonly users: number;
  readonly items: number;
  readonly final: Array<{ loss: number; seconds: number; examples: number; examplesPerSecond: number; phases?: Record<string, number> }>;
}

function checkRun(what: string, run: LockedRun): void {
  if (run.status !== 0) throw new Error(`${what} failed (${run.signal ?? `exit ${run.status}`}): ${lastLine(run.stderr)}`);
}

function recsysPhases(p: Record<string, number> | undefined): Phases | null {
  if (!p || !PHASES.every((k) => typeof p[k] === 'number')) return null;
  return { batch: p.batch, forward: p.forward, backward: p.backward, optimizer: p.optimizer };
}

/** The peer's --phase-times names, in the recsys phases (the optimizer: Adam on the towers plus SparseAdam on the tables). */
function peerPhases(p: Record<string, number> | undefined): Phases | null {
  if (!p) return null;
  return {
    batch: p['batch (numpy)'],
    forward: p['forward + loss'],
    backward: p.backward,
    optimizer: p['Adam (towers)'] + p['SparseAdam (tables)'],
  };
}

const KERNELS_DETAIL = 'own WebAssembly SIMD kernels';

/**
 * What trained: own kernels when the checkout has the `threads` parameter (issue 11), else the
 * TensorFlow.js backend (which then also trained).
 */
function recsysDetail(threads: number | null, b: RecsysChildOutput['backend']): string {
  if (threads !== null) return KERNELS_DETAIL;
  return `${b.name}${b.name === 'wasm' ? `, SIMD ${b.simd ? 'on' : 'off'}, ${b.threads} thread${b.threads === 1 ? '' : 's'}` : ''}`;
}

function recsysArgv(root: string, prep: Prepared, threads: number | null): string[] {
  const overrides = JSON.stringify(threads === null ? {} : { threads });
  return [
    process.execPath,
    '--input-type=module',
    '-e',
    RECSYS_CHILD,
    root,
    prep.spec.dataDir,
    prep.spec.splitDir,
    String(SEED),
    overrides,
  ];
}

function runRecsys(root: string, prep: Prepared, threads: number | null, round: number): { record: RunRecord; seen: SeenData } {
  const what = `recsys${threads === null ? '' : ` threads ${threads}`} on ${prep.spec.key}`;
  const run = runLocked(recsysArgv(root, prep, threads), { lock: LOCK, cwd: root, env: { RECSYS_QUIET: '1' } });
  checkRun(what, run);
  // The child's JSON is its last line of output (a library may print before it).
  const out = JSON.parse(run.stdout.trim().split('\n').pop() ?? '') as RecsysChildOutput;
  if (out.rows !== prep.csvRows.rows || out.sha256 !== prep.csvRows.sha256) {
    throw new Error(
      `${what}: its training rows (${out.rows}, sha256 ${out.sha256.slice(0, 12)}) differ from the peer's train.csv (${prep.csvRows.rows}, ${prep.csvRows.sha256.slice(0, 12)})`,
    );
  }
  const b = out.backend;
  const record: RunRecord = {
    implementation: 'recsys',
    threads,
    round,
    examplesPerSecond: out.epoch.examplesPerSecond,
    epochSeconds: out.epoch.seconds,
    examples: Math.round(out.epoch.examplesPerSecond * out.epoch.seconds),
    loss: out.epoch.loss,
    phases: recsysPhases(out.epoch.phases),
    wallSeconds: run.wallSeconds,
    peakRssMiB: run.peakRssMiB,
    loadavg: run.loadavg,
    detail: recsysDetail(threads, b),
  };
  return { record, seen: { rows: out.rows, users: out.users, items: out.items } };
}

function peerArgv(peerDir: string, prep: Prepared, threads: number, json: string): string[] {
  const csv = (name: string): string => join(prep.spec.csvDir, name);
  return [
    '/usr/bin/python3',
    join(peerDir, 'tt_peer.py'),
    '--train',
    csv('train.csv'),
    '--items',
    csv('items.csv'),
    ...(prep.tags ? ['--tags', csv('tags.csv')] : []),
    '--threads',
    String(threads),
    '--epochs',
    '1',
    '--val-frac',
    '0',
    '--seed',
    String(SEED),
    '--phase-times',
    '--json',
    json,
  ];
}

const PEER_ENV = { OMP_WAIT_POLICY: 'PASSIVE' };

function runPeer(peerDir: string, prep: Prepared, threads: number, round: number): { record: RunRecord; seen: SeenData } {
  const json = tempPathFor(join(CACHE, prep.spec.key, 'peer.json'));
  try {
    const run = runLocked(peerArgv(peerDir, prep, threads, json), { lock: LOCK, cwd: HERE, env: PEER_ENV });
    checkRun(`PyTorch peer ${threads} thread(s) on ${prep.spec.key}`, run);
    const out = readJson<PeerJson>(json);
    const epoch = out.final[0];
    const record: RunRecord = {
      implementation: 'pytorch',
      threads,
      round,
      examplesPerSecond: epoch.examplesPerSecond,
      epochSeconds: epoch.seconds,
      examples: epoch.examples,
      loss: epoch.loss,
      phases: peerPhases(epoch.phases),
      wallSeconds: run.wallSeconds,
      peakRssMiB: run.peakRssMiB,
      loadavg: run.loadavg,
      detail: `torch ${out.torch}, ${out.threads} thread${out.threads === 1 ? '' : 's'}`,
    };
    return { record, seen: { rows: out.events, users: out.users, items: out.items } };
  } finally {
    rmSync(json, { force: true });
  }
}

/** Does the benchmarked checkout's two-tower take a `threads` parameter? */
function recsysHasThreads(root: string): boolean {
  const script = `const m = await import(${JSON.stringify(join(root, 'dist/models/two-tower/params.js'))});
process.stdout.write(String('threads' in m.twoTowerParamsSchema.shape));`;
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`reading the two-tower params schema of ${root}: ${lastLine(res.stderr)}`);
  return res.stdout.trim() === 'true';
}

/** Everything the section shows of one data set, kept so a later run of other data sets keeps it. */
interface DataResult {
  readonly key: DataKey;
  readonly title: string;
  readonly dataDir: string;
  readonly interactions: number;
  readonly date: string;
  readonly machine: string;
  readonly root: string;
  readonly commit: string;
  readonly rounds: number;
  readonly seen: SeenData;
  readonly rowsSha256: string | null;
  readonly commands: string[];
  readonly runs: RunRecord[];
}

const resultFile = (key: DataKey): string => join(CACHE, `results-${key}.json`);

function benchmark(prep: Prepared, opts: ReturnType<typeof options>): DataResult {
  const { spec } = prep;
  const recsysThreads: Array<number | null> = recsysHasThreads(opts.root) ? [...spec.recsysThreads] : [null];
  const peerThreads = spec.peerThreads;
  const runs: RunRecord[] = [];
  const seen: SeenData[] = [];
  const record = (who: string, r: { record: RunRecord; seen: SeenData }): void => {
    if (seen.length && JSON.stringify(r.seen) !== JSON.stringify(seen[0])) {
      throw new Error(`${who} on ${spec.key} trained on ${JSON.stringify(r.seen)}, an earlier run on ${JSON.stringify(seen[0])}`);
    }
    seen.push(r.seen);
    runs.push(r.record);
    console.log(describeRun(spec.key, r.record));
  };
  for (let round = 1; round <= spec.rounds; round++) {
    for (const t of recsysThreads) record('recsys', runRecsys(opts.root, prep, t, round));
    for (const t of peerThreads) record('the PyTorch peer', runPeer(opts.peer, prep, t, round));
  }
  const shown = (argv: string[]): string =>
    argv
      .map((a) =>
        a === process.execPath ? 'node' : a === RECSYS_CHILD ? '"<RECSYS_CHILD of the script>"' : a.replaceAll(`${CACHE}/`, '$CACHE/'),
      )
      .join(' ');
  const commands = [
    `recsys: ${shown(recsysArgv(opts.root, prep, recsysThreads[0]))}`,
    `PyTorch: OMP_WAIT_POLICY=PASSIVE ${shown(peerArgv(opts.peer, prep, 2, '$CACHE/peer.json'))}`,
  ];
  return {
    key: spec.key,
    title: spec.title,
    dataDir: spec.dataDir,
    interactions: prep.interactions,
    date: new Date().toISOString().slice(0, 16).replace('T', ' '),
    machine: machineLine(),
    root: opts.root,
    commit: gitShort(opts.root),
    rounds: spec.rounds,
    seen: seen[0],
    rowsSha256: prep.csvRows.sha256,
    commands,
    runs,
  };
}

function threadsLabel(r: RunRecord): string {
  return r.threads === null ? 'default' : String(r.threads);
}

function describeRun(key: DataKey, r: RunRecord): string {
  return `${key} round ${r.round}: ${r.implementation} threads ${threadsLabel(r)} (${r.detail}): ${r.examplesPerSecond.toFixed(0)} examples/s, loss ${r.loss.toFixed(6)}, peak RSS ${r.peakRssMiB.toFixed(0)} MiB, load ${r.loadavg}`;
}

// ---------------------------------------------------------------- the section

const thousands = (n: number): string => `${(n / 1000).toFixed(1)}k`;

/** Runs grouped by configuration (implementation, threads), in the order first run. */
function configurations(runs: RunRecord[]): RunRecord[][] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of runs) {
    const key = `${r.implementation} ${threadsLabel(r)}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()];
}

function dataMarkdown(res: DataResult): string {
  const groups = configurations(res.runs);
  const medianOf = (g: RunRecord[]): number => median(g.map((r) => r.examplesPerSecond));
  const torch2 = groups.find((g) => g[0].implementation === 'pytorch' && g[0].threads === 2);
  const losses = (g: RunRecord[]): string => [...new Set(g.map((r) => r.loss.toFixed(6)))].join(' / ');
  const speed = [
    '| implementation | threads | examples/s (median) | runs, examples/s | × PyTorch 2 threads | epoch s (median) | peak RSS MiB | load avg (1 min) before each run | first-epoch loss |',
    '| --- | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: |',
    ...groups.map((g) => {
      const r = g[0];
      const ratio = torch2 ? (medianOf(g) / medianOf(torch2)).toFixed(2) : '—';
      // Runs recorded before recsysDetail named the kernels carry the tfjs backend's name.
      const detail = r.implementation === 'recsys' && r.threads !== null ? KERNELS_DETAIL : r.detail;
      return `| ${r.implementation} (${detail}) | ${threadsLabel(r)} | ${thousands(medianOf(g))} | ${g.map((x) => thousands(x.examplesPerSecond)).join(', ')} | ${ratio} | ${median(g.map((x) => x.epochSeconds)).toFixed(1)} | ${Math.max(...g.map((x) => x.peakRssMiB)).toFixed(0)} | ${g.map((x) => x.loadavg.split(' ')[0]).join(', ')} | ${losses(g)} |`;
    }),
  ];
  const recsysLoss = res.runs.find((r) => r.implementation === 'recsys')?.loss;
  const torchLoss = res.runs.find((r) => r.implementation === 'pytorch')?.loss;
  const lossLine =
    recsysLoss !== undefined && torchLoss !== undefined
      ? `First-epoch loss, the check that both train the same model: recsys ${recsysLoss.toFixed(6)}, PyTorch ${torchLoss.toFixed(6)} (difference ${Math.abs(recsysLoss - torchLoss).toExponential(1)}).`
      : '';
  const loads = res.runs.map((r) => Number(r.loadavg.split(' ')[0]));
  const busy =
    Math.max(...loads) > 1
      ? `The 1-minute load average before the runs was ${Math.min(...loads).toFixed(2)} to ${Math.max(...loads).toFixed(2)} on ${cpus().length} cores: other work was running (outside the lock), so these rates are below an idle machine's; the rounds are interleaved so that the ratios suffer less.`
      : '';
  const withPhases = groups.filter((g) => g.every((r) => r.phases !== null));
  const phaseMedian = (g: RunRecord[], k: (typeof PHASES)[number]): number => median(g.map((r) => r.phases![k]));
  const phases = withPhases.length
    ? [
        'Phases of the epoch, seconds (median of the runs; PyTorch: `--phase-times`, forward includes the loss, optimizer = Adam on the towers + SparseAdam on the tables):',
        '',
        '| implementation | threads | batch | forward | backward | optimizer | rest | epoch |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        ...withPhases.map((g) => {
          const values = PHASES.map((k) => phaseMedian(g, k));
          const epoch = median(g.map((r) => r.epochSeconds));
          const rest = epoch - values.reduce((a, b) => a + b, 0);
          return `| ${g[0].implementation} | ${threadsLabel(g[0])} | ${[...values, rest, epoch].map((v) => v.toFixed(2)).join(' | ')} |`;
        }),
      ]
    : [];
  const noPhases = groups.some((g) => g[0].implementation === 'recsys' && g[0].phases === null)
    ? ['recsys records no phase breakdown at this commit (its epoch record has no `phases`).']
    : [];
  const rows = res.rowsSha256
    ? `both sides train on the same ${res.seen.rows.toLocaleString('en-US')} rows (sha256 of user,item,timestamp per row of the split's train.parquet as recsys reads it = of the peer's train.csv: ${res.rowsSha256.slice(0, 16)}…), ${res.seen.users.toLocaleString('en-US')} users, ${res.seen.items.toLocaleString('en-US')} items`
    : `${res.seen.rows.toLocaleString('en-US')} training rows, ${res.seen.users.toLocaleString('en-US')} users, ${res.seen.items.toLocaleString('en-US')} items`;
  return [
    `### ${res.title}`,
    '',
    `Data: \`${res.dataDir.replace(`${CACHE}/`, '$CACHE/')}\` (${res.interactions.toLocaleString('en-US')} events); ${rows}. Measured ${res.date} UTC, ${res.rounds} round${res.rounds === 1 ? '' : 's'}, recsys at commit ${res.commit} (${res.root}). Machine: ${res.machine}.`,
    '',
    ...res.commands.map((c) => `- \`${c}\``),
    '',
    ...speed,
    '',
    ...(lossLine ? [lossLine, ''] : []),
    ...(busy ? [busy, ''] : []),
    ...phases,
    ...(phases.length ? [''] : []),
    ...noPhases,
  ].join('\n');
}

function writeReport(): void {
  const measured = DATA_KEYS.filter((k) => existsSync(resultFile(k)));
  const missing = DATA_KEYS.filter((k) => !measured.includes(k));
  const parts = measured.map((k) => dataMarkdown(readJson<DataResult>(resultFile(k))));
  const body = [
    "One epoch of the two-tower model (`epochs 1, val_frac 0`, shipped defaults otherwise, seed 1) by recsys and by the PyTorch 1.13 peer in `../shared/peers/two-tower/` (the same model, features, initial weights and example order), on the same training rows. Each run is a fresh process that holds `flock /tmp/bench.lock` (the load average is read once it holds it) under `/usr/bin/time -v` (peak RSS); rounds are interleaved (recsys, PyTorch 1 thread, PyTorch 2 threads, recsys, …). examples/s is the epoch record's (`training.final[0].examplesPerSecond`; the peer's `final[0]`): the training loop only, not loading. recsys runs through the library of the benchmarked checkout, as `scripts/bench/two-tower.ts` does, with `threads` 1 and 2 when its params have them. PyTorch runs with `OMP_WAIT_POLICY=PASSIVE`, its best 2-thread setting here.",
    '',
    "Command: `npx vite-node scripts/bench/two-tower-speed.ts [--data small|2m|25m|all] [--rounds 3] [--root CHECKOUT] [--synth25m DIR]` (part of `make bench`); the 25M set gets one run of each side with 2 threads (their best configuration). Data and per-data-set results are kept in `data/bench/two-tower-speed/` (`$CACHE` below), and the section is written from them, so a run of one data set keeps the others' results.",
    '',
    ...parts.flatMap((p) => [p, '']),
    ...(missing.length ? [`Not measured yet: ${missing.map((k) => `\`--data ${k}\``).join(', ')}.`] : []),
  ].join('\n');
  writeSection(SECTION, body);
}

/** The peer needs its script and Debian's torch and pandas (README.md of the peer). */
function checkPeer(peerDir: string): void {
  if (!existsSync(join(peerDir, 'tt_peer.py'))) refuse(`${peerDir}/tt_peer.py: absent (pass --peer DIR)`);
  const res = spawnSync('/usr/bin/python3', ['-c', 'import torch, pandas'], { encoding: 'utf8' });
  if (res.status !== 0) {
    throw new Error(
      `/usr/bin/python3 cannot import torch and pandas (${lastLine(res.stderr ?? '')}): apt-get install -y --no-install-recommends python3-torch python3-pandas`,
    );
  }
}

function main(): void {
  const opts = options();
  if (!opts.writeOnly) {
    checkPeer(opts.peer);
    for (const key of opts.data) {
      const spec = dataSpec(key, opts);
      console.log(`== ${spec.title}: preparing`);
      const prep = prepare(spec, opts.root, opts.peer);
      console.log(`== ${spec.title}: ${spec.rounds} round(s)`);
      writeJsonAtomic(resultFile(key), benchmark(prep, opts));
    }
  }
  writeReport();
  console.log(`wrote the "${SECTION}" section of docs/benchmarks.md`);
}

try {
  main();
} catch (err) {
  console.error(`two-tower-speed: ${(err as Error).message}`);
  process.exit(1);
}
