import { excerpt, InputError } from '../util/errors.js';
import { faiss, type IndexSettings, type NativeIndex } from './native.js';

/** Inner product (the score of factor models) or squared Euclidean distance. */
export type Metric = 'ip' | 'l2';
export const METRICS: readonly Metric[] = ['ip', 'l2'];

export function parseMetric(text: string): Metric {
  if (text === 'ip' || text === 'l2') return text;
  throw new InputError(`unknown metric ${excerpt(text)}: expected ip or l2`);
}

export function faissMetricType(metric: Metric): number {
  const { MetricType } = faiss();
  return metric === 'ip' ? MetricType.METRIC_INNER_PRODUCT : MetricType.METRIC_L2;
}

/** Search-time settings: probed inverted lists (IVF) and candidate-list size (HNSW). */
export interface SearchParams {
  readonly nprobe?: number;
  readonly efSearch?: number;
}

/**
 * A FAISS index over item vectors: the vector added as row i of the embeddings has label i.
 * `source` (the factory string or the file read) names the index in messages.
 */
export class AnnIndex {
  readonly metric: Metric;

  constructor(
    readonly native: NativeIndex,
    readonly source: string,
  ) {
    const type = native.settings().metricType;
    if (type === faissMetricType('ip')) this.metric = 'ip';
    else if (type === faissMetricType('l2')) this.metric = 'l2';
    else throw new InputError(`${source}: FAISS metric type ${type} is not supported (ip or l2)`);
  }

  get dim(): number {
    return this.native.getDimension();
  }

  /** Number of vectors in the index. */
  get count(): number {
    return this.native.ntotal();
  }

  settings(): IndexSettings {
    return this.native.settings();
  }

  /** Sets nprobe / efSearch; a setting the index type does not have is an input error. */
  setSearchParams(params: SearchParams): void {
    const settings = this.settings();
    if (params.nprobe !== undefined) {
      checkPositiveInt('nprobe', params.nprobe);
      if (settings.nlist === undefined) throw new InputError(`nprobe applies to IVF indexes; ${this.source} is not one`);
      if (params.nprobe > settings.nlist) {
        throw new InputError(`nprobe ${params.nprobe} exceeds the ${settings.nlist} lists of ${this.source}`);
      }
      this.native.setParam('nprobe', params.nprobe);
    }
    if (params.efSearch !== undefined) {
      checkPositiveInt('efSearch', params.efSearch);
      if (settings.efSearch === undefined) throw new InputError(`efSearch applies to HNSW indexes; ${this.source} is not one`);
      this.native.setParam('efSearch', params.efSearch);
    }
  }
}

export function checkPositiveInt(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new InputError(`${name} must be an integer >= 1, got ${value}`);
}
