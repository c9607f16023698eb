import type { Embeddings } from '../matrix/embeddings.js';
import { Rng } from '../util/rng.js';

export interface ClusteredVectorOptions {
  readonly rows: number;
  readonly dim: number;
  readonly clusters: number;
  /** Spread around a cluster centre relative to the centres' spread (default 0.5). */
  readonly noise?: number;
  /** Standard deviation of the log of each row's norm scale (default 0.3), like item popularity in factors. */
  readonly normSpread?: number;
  /** Seed of the cluster centres and sizes: items and their queries share it. */
  readonly centreSeed: number;
  /** Seed of the rows drawn around the centres. */
  readonly seed: number;
}

/**
 * Seeded vectors around Gaussian cluster centres with Zipf-like cluster sizes and varying
 * norms: a stand-in for learned item factors where tests and benchmarks need structure
 * (uniform random vectors have none, and make every ANN index look worse than on real data).
 * Queries that match the items: the same `centreSeed` and `clusters`, another `seed`.
 */
export function clusteredVectors(opts: ClusteredVectorOptions): Embeddings {
  const { rows, dim, clusters } = opts;
  const noise = opts.noise ?? 0.5;
  const normSpread = opts.normSpread ?? 0.3;
  const centreRng = new Rng(opts.centreSeed);
  const centres = new Float32Array(clusters * dim);
  for (let i = 0; i < centres.length; i++) centres[i] = centreRng.normal();
  // Cumulative weights 1/(c+1): a few large clusters and a long tail of small ones.
  const cumulative = new Float64Array(clusters);
  let total = 0;
  for (let c = 0; c < clusters; c++) cumulative[c] = total += 1 / (c + 1);

  const rng = new Rng(opts.seed);
  const data = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const u = rng.next() * total;
    let lo = 0;
    let hi = clusters - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    const scale = Math.exp(normSpread * rng.normal());
    for (let d = 0; d < dim; d++) data[r * dim + d] = scale * (centres[lo * dim + d] + noise * rng.normal());
  }
  return { rows, dim, data };
}
