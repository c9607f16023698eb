import { log } from '../util/log.js';
import { flattenParams, metricJson, paramJson, tagJson, type MetricJson, type ParamJson, type TagJson } from './entities.js';
import type { RunEndStatus, TrackedRun } from './tracker.js';

/** Where a run's data goes: a tracking server (buffered) or MLflow's file store. */
export interface RunSink {
  metrics(points: MetricJson[]): void;
  params(params: ParamJson[]): void;
  tags(tags: TagJson[]): void;
  flush(): Promise<void>;
  finish(status: RunEndStatus, endTime: number): Promise<void>;
}

/** The id of a run that could not be started at all (see DISCARD_SINK). */
export const UNTRACKED_RUN_ID = 'untracked';

/** A sink for a run that could not be started at all: its data is dropped (after one warning). */
export const DISCARD_SINK: RunSink = {
  metrics: () => undefined,
  params: () => undefined,
  tags: () => undefined,
  flush: async () => undefined,
  finish: async () => undefined,
};

/**
 * The TrackedRun every tracker hands out. It makes keys and values valid for MLflow, keeps
 * params write-once, and turns every failure into a warning (each distinct one once per run),
 * so that nothing a tracker does can throw into training.
 */
export class GuardedRun implements TrackedRun {
  private readonly loggedParams = new Map<string, string>();
  private readonly warned = new Set<string>();
  private ended = false;

  constructor(
    readonly runId: string,
    /** "experiment/run name", for warnings. */
    private readonly label: string,
    private readonly sink: RunSink,
  ) {}

  logMetric(key: string, value: number, step = 0, timestamp = Date.now()): void {
    this.logMetrics({ [key]: value }, step, timestamp);
  }

  logMetrics(values: Record<string, number>, step = 0, timestamp = Date.now()): void {
    this.guard('log metrics', () => {
      const points: MetricJson[] = [];
      for (const [key, value] of Object.entries(values)) {
        if (typeof value !== 'number') {
          this.warnOnce(`metric-type:${key}`, `metric "${key}" is not a number (${typeof value}); skipped`);
          continue;
        }
        const point = metricJson(key, value, step, timestamp);
        this.checkKey(key, point.key);
        points.push(point);
      }
      if (points.length > 0) this.sink.metrics(points);
    });
  }

  logParams(params: Record<string, unknown>): void {
    this.guard('log params', () => {
      const fresh: ParamJson[] = [];
      for (const [key, value] of flattenParams(params)) {
        const param = paramJson(key, value);
        this.checkKey(key, param.key);
        this.checkValue(`param "${param.key}"`, value, param.value);
        const earlier = this.loggedParams.get(param.key);
        if (earlier === undefined) {
          this.loggedParams.set(param.key, param.value);
          fresh.push(param);
        } else if (earlier !== param.value) {
          this.warnOnce(
            `param-change:${param.key}`,
            `param "${param.key}" was already logged as "${earlier}"; MLflow params cannot change, "${param.value}" is not recorded`,
          );
        }
      }
      if (fresh.length > 0) this.sink.params(fresh);
    });
  }

  setTag(key: string, value: string): void {
    this.setTags({ [key]: value });
  }

  setTags(tags: Record<string, string>): void {
    this.guard('set tags', () => {
      const out: TagJson[] = [];
      for (const [key, value] of Object.entries(tags)) {
        const tag = tagJson(key, String(value));
        this.checkKey(key, tag.key);
        this.checkValue(`tag "${tag.key}"`, String(value), tag.value);
        out.push(tag);
      }
      if (out.length > 0) this.sink.tags(out);
    });
  }

  async flush(): Promise<void> {
    if (this.ended) return;
    try {
      await this.sink.flush();
    } catch (err) {
      this.warnOnce(`flush:${errorText(err)}`, `flush failed: ${errorText(err)}`);
    }
  }

  async end(status: RunEndStatus = 'FINISHED', endTime = Date.now()): Promise<void> {
    if (this.ended) {
      this.warnOnce('end-twice', 'run already ended; this end() is ignored');
      return;
    }
    this.ended = true;
    try {
      await this.sink.finish(status, endTime);
    } catch (err) {
      this.warnOnce(`end:${errorText(err)}`, `ending the run failed: ${errorText(err)}`);
    }
  }

  private guard(what: string, work: () => void): void {
    if (this.ended) {
      this.warnOnce(`after-end:${what}`, `${what} after the run ended; ignored`);
      return;
    }
    try {
      work();
    } catch (err) {
      this.warnOnce(`${what}:${errorText(err)}`, `${what} failed: ${errorText(err)}`);
    }
  }

  private checkKey(given: string, valid: string): void {
    if (given !== valid) {
      this.warnOnce(`key:${given}`, `key "${given}" is not a valid MLflow name; recorded as "${valid}"`);
    }
  }

  private checkValue(what: string, given: string, kept: string): void {
    if (given !== kept) {
      this.warnOnce(`value:${what}`, `${what} is longer than MLflow allows; truncated to ${kept.length} characters`);
    }
  }

  private warnOnce(id: string, message: string): void {
    if (this.warned.has(id)) return;
    this.warned.add(id);
    log.warn(`tracking (${this.label}): ${message}`, { event: 'tracking.warning', runId: this.runId });
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
