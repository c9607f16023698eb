import { join } from 'node:path';
import { IdMap } from '../../data/id-map.js';
import type { TrainingData } from '../../data/training-data.js';
import { readNpyFloat32, readNpyInt32, writeNpy } from '../../artifacts/npy.js';
import { csrHas, type Csr } from '../../matrix/csr.js';
import { allocTopK, type TopK } from '../../matrix/topk.js';
import { z } from 'zod';
import type { ModelFactory, Recommender } from '../model.js';

/**
 * The baseline every model must beat: score = number of training interactions of the item,
 * ties broken by raw item id ascending. Recommending walks the one global ranking and skips
 * the user's seen items, so it costs O(k + |seen|) per user, not O(catalogue).
 */
export class PopularityModel implements Recommender {
  readonly kind = 'popularity';
  /** Dense item indices, most popular first. */
  private readonly ranking: Int32Array;

  constructor(
    readonly users: IdMap,
    readonly items: IdMap,
    /** Training interaction count per dense item. */
    readonly counts: Float32Array,
  ) {
    this.ranking = Int32Array.from({ length: items.size }, (_, i) => i).sort((a, b) => counts[b] - counts[a] || a - b);
  }

  recommend(users: Int32Array, k: number, exclude: Csr | null): TopK {
    const out = allocTopK(users.length, k);
    for (let b = 0; b < users.length; b++) {
      const u = users[b];
      const canExclude = exclude !== null && u >= 0 && u < exclude.nRows;
      let j = 0;
      for (let r = 0; r < this.ranking.length && j < k; r++) {
        const item = this.ranking[r];
        if (canExclude && csrHas(exclude, u, item)) continue;
        out.items[b * k + j] = item;
        out.scores[b * k + j] = this.counts[item];
        j++;
      }
    }
    return out;
  }

  /** Popularity has no notion of similarity: the most popular other items. */
  similarItems(items: Int32Array, k: number): TopK {
    const out = allocTopK(items.length, k);
    for (let b = 0; b < items.length; b++) {
      let j = 0;
      for (let r = 0; r < this.ranking.length && j < k; r++) {
        const item = this.ranking[r];
        if (item === items[b]) continue;
        out.items[b * k + j] = item;
        out.scores[b * k + j] = this.counts[item];
        j++;
      }
    }
    return out;
  }

  params(): PopularityParams {
    return {};
  }

  async save(dir: string): Promise<void> {
    writeNpy(join(dir, 'user_ids.npy'), this.users.ids);
    writeNpy(join(dir, 'item_ids.npy'), this.items.ids);
    writeNpy(join(dir, 'item_counts.npy'), this.counts);
  }
}

/** Popularity has no hyper-parameters; any key is an error. */
const popularityParamsSchema = z.object({}).strict();
type PopularityParams = z.infer<typeof popularityParamsSchema>;

export const popularityFactory: ModelFactory<typeof popularityParamsSchema> = {
  kind: 'popularity',
  description: 'most popular training items (interaction count, ties by item id)',
  params: popularityParamsSchema,
  async fit(data: TrainingData): Promise<Recommender> {
    const counts = new Float32Array(data.items.size);
    for (let p = 0; p < data.matrix.indices.length; p++) counts[data.matrix.indices[p]] += data.matrix.data[p];
    return new PopularityModel(data.users, data.items, counts);
  },
  async load(dir: string): Promise<Recommender> {
    return new PopularityModel(
      new IdMap(readNpyInt32(join(dir, 'user_ids.npy'))),
      new IdMap(readNpyInt32(join(dir, 'item_ids.npy'))),
      readNpyFloat32(join(dir, 'item_counts.npy')).data,
    );
  },
};
