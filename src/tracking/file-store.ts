import { randomInt, randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import YAML from 'yaml';
import { writeFileAtomic } from '../util/fs.js';
import { log } from '../util/log.js';
import { fromJsonDouble, type MetricJson, type ParamJson, type TagJson } from './entities.js';
import { DISCARD_SINK, GuardedRun, UNTRACKED_RUN_ID, errorText, type RunSink } from './guarded-run.js';
import { MAX_EXPERIMENT_NAME_LENGTH, clipChars } from './limits.js';
import { formatPythonFloat } from './python-float.js';
import { TAG_RUN_NAME, currentUser, runTags } from './system-tags.js';
import type { RunEndStatus, StartRunOptions, TrackedRun, Tracker } from './tracker.js';

/**
 * Runs in MLflow's file-store layout (mlflow/store/tracking/file_store.py), so that
 * `mlflow ui --backend-store-uri ./mlruns` shows them:
 *
 *   mlruns/<experiment_id>/meta.yaml
 *   mlruns/<experiment_id>/<run_id>/meta.yaml
 *   mlruns/<experiment_id>/<run_id>/metrics/<key>   lines "timestamp value step"
 *   mlruns/<experiment_id>/<run_id>/params/<key>    the value, no newline
 *   mlruns/<experiment_id>/<run_id>/tags/<key>      the value, no newline
 *   mlruns/<experiment_id>/<run_id>/artifacts/
 *
 * As MLflow does: experiment "0" is "Default" and is created with the store, new experiment
 * ids are random 18-digit numbers, run ids are uuid4 hex, meta.yaml keys are sorted and
 * `status` / `source_type` are the proto enums' numbers.
 */

/** mlflow.RunStatus numbers, as the file store writes them. */
export const RUN_STATUS_CODE = { RUNNING: 1, SCHEDULED: 2, FINISHED: 3, FAILED: 4, KILLED: 5 } as const;
/** mlflow.SourceType.LOCAL: the file store writes it for every run. */
const SOURCE_TYPE_LOCAL = 4;
const DEFAULT_EXPERIMENT_ID = '0';
const DEFAULT_EXPERIMENT_NAME = 'Default';
const TRASH_FOLDER = '.trash';
const META_FILE = 'meta.yaml';

export interface ExperimentMeta {
  artifact_location: string;
  creation_time: number;
  experiment_id: string;
  last_update_time: number;
  lifecycle_stage: 'active' | 'deleted';
  name: string;
}

export interface RunMeta {
  artifact_uri: string;
  end_time: number | null;
  entry_point_name: string;
  experiment_id: string;
  lifecycle_stage: 'active' | 'deleted';
  run_id: string;
  run_name: string;
  run_uuid: string;
  source_name: string;
  source_type: number;
  source_version: string;
  start_time: number;
  status: number;
  /** Tags live in tags/; MLflow keeps this empty list for old readers. */
  tags: never[];
  user_id: string;
}

export class FileStoreTracker implements Tracker {
  readonly kind = 'file-store';
  private readonly experimentIds = new Map<string, string>();

  constructor(
    /** The mlruns folder. */
    readonly location: string,
  ) {}

  async startRun(options: StartRunOptions): Promise<TrackedRun> {
    const label = `${options.experiment}/${options.runName}`;
    try {
      this.ensureStore();
      const experimentId = this.experimentId(clipChars(options.experiment, MAX_EXPERIMENT_NAME_LENGTH));
      const runId = randomUUID().replace(/-/g, '');
      const runDir = join(this.location, experimentId, runId);
      mkdirSync(runDir);
      for (const sub of ['metrics', 'params', 'artifacts']) mkdirSync(join(runDir, sub));
      const meta: RunMeta = {
        artifact_uri: `${this.artifactLocation(experimentId)}/${runId}/artifacts`,
        end_time: null,
        entry_point_name: '',
        experiment_id: experimentId,
        lifecycle_stage: 'active',
        run_id: runId,
        run_name: options.runName,
        run_uuid: runId,
        source_name: '',
        source_type: SOURCE_TYPE_LOCAL,
        source_version: '',
        start_time: options.startTime ?? Date.now(),
        status: RUN_STATUS_CODE.RUNNING,
        tags: [],
        user_id: currentUser(),
      };
      writeYaml(join(runDir, META_FILE), meta);
      const run = new GuardedRun(runId, label, new FileRunSink(runDir, meta));
      run.setTags(runTags(options));
      if (options.params) run.logParams(options.params);
      return run;
    } catch (err) {
      log.warn(`tracking (${label}): could not start the run in ${this.location}: ${errorText(err)}; it is not tracked`);
      return new GuardedRun(UNTRACKED_RUN_ID, label, DISCARD_SINK);
    }
  }

  async endRun(runId: string, status: RunEndStatus, endTime: number): Promise<void> {
    try {
      const experiment = existsSync(this.location)
        ? readdirSync(this.location).find((e) => existsSync(join(this.location, e, runId, META_FILE)))
        : undefined;
      if (experiment === undefined) {
        log.warn(`tracking: run ${runId} is not in ${this.location}; not ended`);
        return;
      }
      const path = join(this.location, experiment, runId, META_FILE);
      const meta = YAML.parse(readFileSync(path, 'utf8')) as RunMeta;
      if (meta.status !== RUN_STATUS_CODE.RUNNING) return;
      await new FileRunSink(dirname(path), meta).finish(status, endTime);
    } catch (err) {
      log.warn(`tracking: could not end run ${runId} in ${this.location}: ${errorText(err)}`);
    }
  }

  /** Creates the store with its Default experiment and trash folder, as MLflow's FileStore does. */
  private ensureStore(): void {
    if (!existsSync(this.location)) {
      mkdirSync(this.location, { recursive: true });
      this.writeExperiment(DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME);
    }
    mkdirSync(join(this.location, TRASH_FOLDER), { recursive: true });
  }

  private experimentId(name: string): string {
    let id = this.experimentIds.get(name);
    if (id === undefined) {
      id = this.findExperiment(this.location, name) ?? this.createExperiment(name);
      this.experimentIds.set(name, id);
    }
    return id;
  }

  private findExperiment(parent: string, name: string): string | null {
    for (const entry of readdirSync(parent, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const metaPath = join(parent, entry.name, META_FILE);
      if (!existsSync(metaPath)) continue;
      const meta = YAML.parse(readFileSync(metaPath, 'utf8')) as Partial<ExperimentMeta> | null;
      if (meta?.name === name) return String(meta.experiment_id ?? entry.name);
    }
    return null;
  }

  private createExperiment(name: string): string {
    if (this.findExperiment(join(this.location, TRASH_FOLDER), name) !== null) {
      throw new Error(`experiment "${name}" exists in deleted state in ${TRASH_FOLDER}; restore it or remove it`);
    }
    for (;;) {
      const id = uniqueIntegerId();
      try {
        mkdirSync(join(this.location, id));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw err;
      }
      this.writeExperiment(id, name);
      return id;
    }
  }

  private writeExperiment(id: string, name: string): void {
    const now = Date.now();
    const meta: ExperimentMeta = {
      artifact_location: this.artifactLocation(id),
      creation_time: now,
      experiment_id: id,
      last_update_time: now,
      lifecycle_stage: 'active',
      name,
    };
    writeYaml(join(this.location, id, META_FILE), meta);
  }

  private artifactLocation(experimentId: string): string {
    return pathToFileURL(resolve(this.location, experimentId)).href;
  }
}

/** Writes a run's data straight to its files; metric lines are appended as MLflow appends them. */
class FileRunSink implements RunSink {
  constructor(
    private readonly runDir: string,
    private readonly meta: RunMeta,
  ) {}

  metrics(points: MetricJson[]): void {
    const lines = new Map<string, string>();
    for (const p of points) {
      const line = `${p.timestamp} ${formatPythonFloat(fromJsonDouble(p.value))} ${p.step}\n`;
      lines.set(p.key, (lines.get(p.key) ?? '') + line);
    }
    for (const [key, text] of lines) {
      const path = join(this.runDir, 'metrics', key);
      mkdirSync(dirname(path), { recursive: true });
      appendFileSync(path, text);
    }
  }

  params(params: ParamJson[]): void {
    for (const p of params) writeFileAtomic(join(this.runDir, 'params', p.key), p.value);
  }

  tags(tags: TagJson[]): void {
    for (const t of tags) {
      writeFileAtomic(join(this.runDir, 'tags', t.key), t.value);
      // MLflow keeps run_name in meta.yaml equal to the mlflow.runName tag.
      if (t.key === TAG_RUN_NAME && t.value !== this.meta.run_name) {
        this.meta.run_name = t.value;
        writeYaml(join(this.runDir, META_FILE), this.meta);
      }
    }
  }

  async flush(): Promise<void> {
    // Every write above is already on disk.
  }

  async finish(status: RunEndStatus, endTime: number): Promise<void> {
    this.meta.status = RUN_STATUS_CODE[status];
    this.meta.end_time = endTime;
    writeYaml(join(this.runDir, META_FILE), this.meta);
  }
}

/** YAML as MLflow writes it (PyYAML safe_dump: block style, sorted keys, single quotes). */
function writeYaml(path: string, value: ExperimentMeta | RunMeta): void {
  writeFileAtomic(path, YAML.stringify(value, { sortMapEntries: true, singleQuote: true, lineWidth: 0 }));
}

/** MLflow's experiment ids: 18 random decimal digits, the first not 0. */
function uniqueIntegerId(): string {
  let id = String(randomInt(1, 10));
  for (let i = 1; i < 18; i++) id += String(randomInt(0, 10));
  return id;
}
