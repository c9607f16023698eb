import { join } from 'node:path';
import { EXPOSURES_FILE } from '../data/dataset.js';
import { readNumericParquet } from '../data/parquet.js';
import { withExtraItems } from './candidates.js';
import type { Funnel } from './funnel.js';
import type { RankingData } from './gbdt/index.js';
import { Progress } from '../util/progress.js';
import { InputError } from '../util/errors.js';

/**
 * Logged impressions, one row per shown item: the columns of the exposures table that
 * `recsys data import --format events` writes (exposures.parquet), with raw ids.
 */
export interface LoggedImpressions {
  readonly userId: Int32Array;
  readonly itemId: Int32Array;
  /** 1-based, as shown. */
  readonly position: Int32Array;
  /** 1 when the shown item got a positive event (click, purchase). */
  readonly clicked: Uint8Array;
}

/**
 * The exposures table of a dataset that `recsys data import --format events` wrote
 * (`<dir>/exposures.parquet`), in its row order; rows of answers to no user are left out.
 */
export async function readLoggedImpressions(datasetDir: string): Promise<LoggedImpressions> {
  const columns = await readNumericParquet(
    join(datasetDir, EXPOSURES_FILE),
    ['user_id', 'item_id', 'position', 'clicked'].map((name) => ({ name, as: 'int32' as const })),
    'WHERE user_id IS NOT NULL',
  );
  return {
    userId: columns.user_id as Int32Array,
    itemId: columns.item_id as Int32Array,
    position: columns.position as Int32Array,
    clicked: Uint8Array.from(columns.clicked),
  };
}

export type ClickExampleStats = {
  readonly impressions: number;
  /** Rows that became examples (the rest: unknown user or item, or a position beyond the curve). */
  readonly rows: number;
  readonly clicks: number;
  readonly users: number;
  readonly unknownUser: number;
  readonly unknownItem: number;
  /** Rows shown at a position the examination curve does not cover. */
  readonly beyondCurve: number;
  /** Σ label over the rows: the clicks as counted after inverse-propensity weighting. */
  readonly weightedClicks: number;
};

export interface ClickExamples {
  /** One group per user (the regression objective reads no groups; they keep the data a RankingData). */
  readonly data: RankingData;
  readonly stats: ClickExampleStats;
}

/**
 * Regression examples from logged impressions (docs/position-bias.md): each shown (user, item)
 * has the ranker's features as the funnel computes them for a candidate, and the label
 * y = clicked / max(θ_p, floor), θ_p the examination probability of the position it was shown
 * at (`theta[p - 1]`, θ_1 = 1). Under the position-based model a click at p has probability
 * θ_p · r(user, item), so E[y] = r: a squared-error fit on y learns the relevance, not where the
 * logging policy happened to show an item (Joachims et al. 2017: a click at p counts 1/θ_p).
 * With every θ_p = 1 the labels are the raw clicks (the unweighted baseline).
 */
export function buildClickExamples(
  funnel: Funnel,
  logs: LoggedImpressions,
  theta: readonly number[],
  floor: number,
  batchSize = 256,
): ClickExamples {
  const n = logs.userId.length;
  if (logs.itemId.length !== n || logs.position.length !== n || logs.clicked.length !== n)
    throw new InputError(
      `logged impressions: columns of different lengths (${n} users, ${logs.itemId.length} items, ${logs.position.length} positions, ${logs.clicked.length} clicks)`,
    );
  theta.forEach((t, j) => {
    if (!(t > 0 && t <= 1)) throw new InputError(`position bias: θ at position ${j + 1} is ${t}, not in (0, 1]`);
  });
  const { users: userIds, items: itemIds } = funnel.data;
  const users = userIds.mapAll(logs.userId);
  const items = itemIds.mapAll(logs.itemId);
  let unknownUser = 0;
  let unknownItem = 0;
  let beyondCurve = 0;
  // Rows that become examples, grouped by dense user.
  const rowsOf = new Map<number, number[]>();
  for (let r = 0; r < n; r++) {
    if (users[r] < 0) unknownUser++;
    else if (items[r] < 0) unknownItem++;
    else if (!(logs.position[r] >= 1 && logs.position[r] <= theta.length)) beyondCurve++;
    else {
      const list = rowsOf.get(users[r]);
      if (list) list.push(r);
      else rowsOf.set(users[r], [r]);
    }
  }
  const exampleUsers = Int32Array.from([...rowsOf.keys()].sort((a, b) => a - b));
  const rows = exampleUsers.reduce((a, u) => a + (rowsOf.get(u)?.length ?? 0), 0);
  const nFeatures = funnel.featureNames.length;
  const features = new Float32Array(rows * nFeatures);
  const labels = new Float32Array(rows);
  const groupSizes = Int32Array.from(exampleUsers, (u) => rowsOf.get(u)?.length ?? 0);
  const progress = new Progress('click examples', exampleUsers.length, 'users');
  let at = 0;
  let clicks = 0;
  let weightedClicks = 0;
  for (let start = 0; start < exampleUsers.length; start += batchSize) {
    const part = exampleUsers.subarray(start, Math.min(exampleUsers.length, start + batchSize));
    // The shown items' features as the funnel computes them for candidates: the channels'
    // scores and ranks where a channel proposes the item, missing where none does.
    const shown = Array.from(part, (u) => (rowsOf.get(u) ?? []).map((r) => items[r]));
    const set = withExtraItems(funnel.candidates(part, null).set, shown);
    const x = funnel.features(set);
    for (let b = 0; b < part.length; b++) {
      const rowOfItem = new Map<number, number>();
      for (let s = set.offsets[b]; s < set.offsets[b + 1]; s++) rowOfItem.set(set.items[s], s);
      for (const r of rowsOf.get(part[b]) ?? []) {
        const s = rowOfItem.get(items[r]) ?? -1;
        features.set(x.subarray(s * nFeatures, (s + 1) * nFeatures), at * nFeatures);
        const y = logs.clicked[r] ? 1 / Math.max(theta[logs.position[r] - 1], floor) : 0;
        labels[at++] = y;
        clicks += logs.clicked[r] ? 1 : 0;
        weightedClicks += y;
      }
    }
    progress.tick(part.length);
  }
  const stats: ClickExampleStats = {
    impressions: n,
    rows,
    clicks,
    users: exampleUsers.length,
    unknownUser,
    unknownItem,
    beyondCurve,
    weightedClicks,
  };
  progress.finish(stats);
  return { data: { features, nRows: rows, nFeatures, labels, groupSizes }, stats };
}
