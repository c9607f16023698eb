import type { Interactions } from '../data/interactions.js';
import { csrFromCoo, csrHas, type Csr } from '../matrix/csr.js';
import { NegativeSampler, type NegativeDistribution } from '../sampling/negative.js';
import { Progress } from '../util/progress.js';
import { Rng } from '../util/rng.js';
import { sampleIndices } from '../index/vectors.js';
import { withExtraItems } from './candidates.js';
import type { Funnel } from './funnel.js';
import type { RankingData } from './gbdt/index.js';

export interface ExampleOptions {
  /** Negatives drawn per user from the sampler, besides the unclicked candidates. */
  readonly negatives: number;
  readonly distribution: NegativeDistribution;
  /** Share of users whose queries go to the validation set (0 = none). */
  readonly validFrac: number;
  /** At most this many queries (a seeded sample of the users), so large logs stay trainable. */
  readonly maxQueries: number;
  readonly seed: number;
  readonly batchSize?: number;
}

export interface TrainingExamples {
  readonly train: RankingData;
  readonly valid: RankingData | null;
  /** Dense users (of the funnel's data) of each set, in query order. */
  readonly trainUsers: Int32Array;
  readonly validUsers: Int32Array;
  /** users × items: each user's label-window items not seen in the feature data. */
  readonly labels: Csr;
  readonly stats: {
    readonly rows: number;
    readonly queries: number;
    readonly positives: number;
    /** Positives that the channels proposed (the rest were added as extra rows). */
    readonly positivesAmongCandidates: number;
    readonly sampledNegatives: number;
  };
}

/** Growing row-major features and labels of one set. */
class RowCollector {
  private chunks: Float32Array[] = [];
  private labelChunks: Int32Array[] = [];
  private groups: number[] = [];

  constructor(private readonly nFeatures: number) {}

  add(features: Float32Array, labels: Int32Array, groupSizes: number[]): void {
    this.chunks.push(features);
    this.labelChunks.push(labels);
    this.groups.push(...groupSizes);
  }

  build(): RankingData {
    const nRows = this.labelChunks.reduce((a, c) => a + c.length, 0);
    const features = new Float32Array(nRows * this.nFeatures);
    const labels = new Int32Array(nRows);
    let at = 0;
    this.chunks.forEach((c, i) => {
      features.set(c, at * this.nFeatures);
      labels.set(this.labelChunks[i], at);
      at += this.labelChunks[i].length;
    });
    return { features, nRows, nFeatures: this.nFeatures, labels, groupSizes: Int32Array.from(this.groups) };
  }
}

function mergeSorted(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length || j < b.length) {
    const v = j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i++] : b[j++];
    if (n === 0 || out[n - 1] !== v) out[n++] = v;
  }
  return out.subarray(0, n);
}

/**
 * Learning-to-rank examples from an inner time split of train: `funnel` is built on the early
 * part (features, candidates) and `late` (the later part) gives the labels. A user's query
 * holds the merged candidates, the user's late items (positives, label 1) and `negatives`
 * items drawn from the negative sampler among items the user has in neither part; every other
 * row is a negative (label 0). Users without a late item the early data knows are left out,
 * as are late items seen in the early part (the served lists never show seen items).
 * Beyond `maxQueries` users, a seeded sample of them is used.
 */
export function buildTrainingExamples(funnel: Funnel, late: Interactions, opts: ExampleOptions): TrainingExamples {
  const data = funnel.data;
  const seen = data.matrix;
  const labels = labelMatrix(funnel, late);
  const rng = new Rng(opts.seed);
  const withLabels = Int32Array.from({ length: data.users.size }, (_, u) => u).filter((u) => labels.indptr[u + 1] > labels.indptr[u]);
  const queryUsers =
    withLabels.length > opts.maxQueries
      ? Int32Array.from(sampleIndices(withLabels.length, opts.maxQueries, rng), (q) => withLabels[q])
      : withLabels;
  const validity = Array.from(queryUsers, () => opts.validFrac > 0 && rng.next() < opts.validFrac);
  const trainUsers = queryUsers.filter((_, q) => !validity[q]);
  const validUsers = queryUsers.filter((_, q) => validity[q]);

  const counts = new Float64Array(data.items.size);
  for (let p = 0; p < seen.indices.length; p++) counts[seen.indices[p]] += seen.data[p];
  const sampler = new NegativeSampler(counts, { distribution: opts.distribution, seed: opts.seed });
  const drawn = new Int32Array(opts.negatives);
  const nFeatures = funnel.featureNames.length;
  const stats = { rows: 0, queries: 0, positives: labels.indices.length, positivesAmongCandidates: 0, sampledNegatives: 0 };
  const batch = opts.batchSize ?? 256;
  const progress = new Progress('ranker examples', queryUsers.length, 'users');
  const row = (m: Csr, u: number): Int32Array => m.indices.subarray(m.indptr[u], m.indptr[u + 1]);

  const collect = (users: Int32Array): RankingData => {
    const rows = new RowCollector(nFeatures);
    for (let start = 0; start < users.length; start += batch) {
      const part = users.subarray(start, Math.min(users.length, start + batch));
      const { set } = funnel.candidates(part, seen);
      const extras = Array.from(part, (u) => {
        const known = mergeSorted(row(seen, u), row(labels, u));
        const negatives =
          opts.negatives > 0 && known.length < data.items.size ? sampler.sample(known, opts.negatives, drawn) : drawn.subarray(0, 0);
        stats.sampledNegatives += negatives.length;
        return [...row(labels, u), ...negatives];
      });
      for (let b = 0; b < part.length; b++) {
        for (let r = set.offsets[b]; r < set.offsets[b + 1]; r++)
          if (csrHas(labels, part[b], set.items[r])) stats.positivesAmongCandidates++;
      }
      const examples = withExtraItems(set, extras);
      const y = new Int32Array(examples.items.length);
      for (let b = 0; b < part.length; b++) {
        for (let r = examples.offsets[b]; r < examples.offsets[b + 1]; r++) y[r] = csrHas(labels, part[b], examples.items[r]) ? 1 : 0;
      }
      const sizes = Array.from(part, (_, b) => examples.offsets[b + 1] - examples.offsets[b]);
      rows.add(funnel.features(examples), y, sizes);
      stats.rows += examples.items.length;
      stats.queries += part.length;
      progress.tick(part.length);
    }
    return rows.build();
  };
  const train = collect(trainUsers);
  const valid = validUsers.length > 0 ? collect(validUsers) : null;
  progress.finish(stats);
  return { train, valid, trainUsers, validUsers, labels, stats };
}

/** users × items of the funnel's data: each user's `late` items that the early data knows and the user did not see there. */
export function labelMatrix(funnel: Funnel, late: Interactions): Csr {
  const { users, items, matrix } = funnel.data;
  const u = users.mapAll(late.userId);
  const i = items.mapAll(late.itemId);
  for (let r = 0; r < u.length; r++) if (u[r] >= 0 && i[r] >= 0 && csrHas(matrix, u[r], i[r])) u[r] = -1;
  return csrFromCoo(users.size, items.size, u, i, null);
}
