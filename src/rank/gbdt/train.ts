import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError, RecsysError } from '../../util/errors.js';
import { cleanStaleTemps, makeDirs, tempPathFor } from '../../util/fs.js';
import { log } from '../../util/log.js';
import { Progress } from '../../util/progress.js';
import type { MetricLine } from './engine-cli.js';
import { selectGbdtEngine, type SelectedEngine } from './select-engine.js';
import { parseGbdtModel } from './load.js';
import type { GbdtEngine, GbdtModel } from './engine.js';
import { resolveGbdtParams, type GbdtParams, type GbdtParamsInput } from './params.js';
import { outputTail, runProgram, type Env, type ProgramRun } from './program.js';
import { validateRankingData, type RankingData } from './ranking-data.js';

export interface TrainGbdtOptions {
  /** 'auto' (default): LightGBM when available, else xgboost. */
  engine?: 'auto' | GbdtEngine;
  /** Validation queries, evaluated (NDCG@evalAt) after every round. */
  valid?: RankingData | null;
  /** Default one hour. */
  timeoutMs?: number;
  /** Keeps the config, data and model files there; by default a temporary folder, removed after. */
  workDir?: string;
  /**
   * Where that temporary folder goes (default: the system's temporary directory), named
   * `.recsys-gbdt.tmp-<pid>-<random>`: those of dead processes are removed when the next
   * training starts there, or, under an artifact folder, by the next run writing there.
   */
  tempIn?: string;
  /** Environment for finding and running the program (PATH, LIGHTGBM_BIN); default process.env. */
  env?: Env;
  onIteration?: (iteration: number, metrics: Record<string, number>) => void;
}

export interface IterationMetrics {
  /** 1-based boosting round. */
  readonly iteration: number;
  readonly metrics: Record<string, number>;
}

/** What to record in a manifest about how the model was trained. */
export interface GbdtTrainInfo {
  readonly engine: GbdtEngine;
  readonly program: string;
  readonly version: string | null;
  readonly reason: string;
  readonly command: string[];
  readonly config: string;
  readonly params: GbdtParams;
  readonly seconds: number;
  readonly trainRows: number;
  readonly trainQueries: number;
  readonly validRows: number;
  /** Validation metrics per round, as the program logged them. */
  readonly history: IterationMetrics[];
}

export interface GbdtTrainResult {
  readonly model: GbdtModel;
  readonly info: GbdtTrainInfo;
}

const DEFAULT_TIMEOUT_MS = 3_600_000;

/** Collects per-round metric lines into rounds, reporting each round once it is complete. */
class HistoryCollector {
  readonly rounds: IterationMetrics[] = [];
  private current: IterationMetrics | null = null;

  constructor(private readonly onRound: (round: IterationMetrics) => void) {}

  add(lines: MetricLine[]): void {
    for (const m of lines) {
      if (this.current?.iteration !== m.iteration) {
        this.flush();
        this.current = { iteration: m.iteration, metrics: {} };
      }
      this.current.metrics[m.metric] = m.value;
    }
  }

  flush(): void {
    if (!this.current) return;
    this.rounds.push(this.current);
    this.onRound(this.current);
    this.current = null;
  }
}

/** Runs `selected`'s program on a config file in `dir`, with the standard error handling. */
export function runEngine(
  selected: SelectedEngine,
  dir: string,
  configFile: string,
  opts: { timeoutMs?: number; env: Env; onLine?: (line: string) => void },
): Promise<ProgramRun> {
  return runProgram({
    program: selected.program,
    args: selected.cli.args(configFile),
    cwd: dir,
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    env: opts.env,
    onLine: opts.onLine,
  });
}

const ENGINE_DIR = 'recsys-gbdt';

/** A folder for the program's files: `workDir` if given (kept), else a temporary one (removed). */
export async function withEngineDir<T>(at: Pick<TrainGbdtOptions, 'workDir' | 'tempIn'>, body: (dir: string) => Promise<T>): Promise<T> {
  const { workDir, tempIn = tmpdir() } = at;
  if (!workDir) cleanStaleTemps(tempIn, ENGINE_DIR);
  const dir = workDir ?? tempPathFor(join(tempIn, ENGINE_DIR));
  makeDirs(dir);
  try {
    return await body(dir);
  } finally {
    if (!workDir) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Trains a GBDT (lambdarank, or regression: `params.objective`) with a native command-line program (see `selectGbdtEngine`) and
 * returns the parsed model. The program's choice is logged; `info` is what a manifest records.
 */
export async function trainGbdt(train: RankingData, params: GbdtParamsInput = {}, opts: TrainGbdtOptions = {}): Promise<GbdtTrainResult> {
  const p = resolveGbdtParams(params);
  validateRankingData(train, 'training data', p.objective);
  const valid = opts.valid ?? null;
  if (valid) {
    validateRankingData(valid, 'validation data', p.objective);
    if (valid.nFeatures !== train.nFeatures) {
      throw new InputError(`validation data has ${valid.nFeatures} features, training data ${train.nFeatures}`);
    }
  }
  for (const j of p.categoricalFeatures ?? []) {
    if (!Number.isInteger(j) || j < 0 || j >= train.nFeatures) {
      throw new InputError(`gbdt params: categorical feature ${j} is not a feature index (0..${train.nFeatures - 1})`);
    }
  }
  const env = opts.env ?? process.env;
  const selected = selectGbdtEngine(opts.engine ?? 'auto', env);
  const { cli, program } = selected;
  if (cli.engine === 'xgboost' && p.categoricalFeatures?.length) {
    log.warn('gbdt: the xgboost CLI cannot be told which features are categorical; it reads them as numbers');
  }
  const version = await cli.version(program, env).catch(() => null);
  log.info(`gbdt: training with ${cli.engine}${version ? ` ${version}` : ''} (${program}): ${selected.reason}`);
  log.event('gbdt.engine', { engine: cli.engine, program, version, reason: selected.reason });

  return withEngineDir(opts, async (dir) => {
    const files = {
      train: cli.writeData(dir, 'train', train),
      valid: valid ? cli.writeData(dir, 'valid', valid) : null,
      model: cli.modelFile,
    };
    const config = cli.trainConfig(p, files);
    writeFileSync(join(dir, 'train.conf'), config);
    const progress = new Progress(`gbdt ${cli.engine}`, p.numTrees, 'rounds');
    const history = new HistoryCollector((round) => {
      progress.tick();
      opts.onIteration?.(round.iteration, round.metrics);
    });
    const run = await runEngine(selected, dir, 'train.conf', {
      timeoutMs: opts.timeoutMs,
      env,
      onLine: (line) => history.add(cli.parseLogLine(line)),
    });
    history.flush();
    progress.finish({ engine: cli.engine });
    const modelPath = join(dir, cli.modelFile);
    if (!existsSync(modelPath)) {
      throw new RecsysError(`${program} finished but wrote no model file ${cli.modelFile} (in ${dir})\n${outputTail(run)}`);
    }
    const model = parseGbdtModel(readFileSync(modelPath, 'utf8'), `${cli.engine} model ${modelPath}`);
    const info: GbdtTrainInfo = {
      engine: cli.engine,
      program,
      version,
      reason: selected.reason,
      command: [program, ...cli.args('train.conf')],
      config,
      params: p,
      seconds: run.seconds,
      trainRows: train.nRows,
      trainQueries: train.groupSizes.length,
      validRows: valid?.nRows ?? 0,
      history: history.rounds,
    };
    const last = history.rounds.at(-1);
    log.event('gbdt.train', { ...info, config: undefined, history: undefined, lastMetrics: last?.metrics, trees: model.nTrees });
    return { model, info };
  });
}
