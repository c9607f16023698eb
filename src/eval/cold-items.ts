import { IdMap } from '../data/id-map.js';
import { selectRows, type Interactions, type ItemCatalog } from '../data/interactions.js';
import type { Csr } from '../matrix/csr.js';
import { recommendsColdItems, type Recommender } from '../models/model.js';
import { evaluateModel, evaluateTargets, seenMatrix, type EvalOptions, type Metrics } from './evaluate.js';
import { buildTargets } from './protocol.js';

/** Key prefix of the cold-item cohort's metrics, e.g. `cold:ndcg@10`. */
export const COLD_PREFIX = 'cold:';

/**
 * The cold-item cohort (docs/metrics.md): test items with no training interactions, which only a
 * content-aware model can score. Evaluated users: training users with at least one such item in
 * their test events; relevant: those cold items; candidates: the training items (minus the user's
 * own) plus every cold item, so cold items must compete with the whole catalogue. Returns null
 * when the model cannot score unseen items or the test side has none.
 */
export function evaluateColdItems(
  model: Recommender,
  train: Interactions,
  test: Interactions,
  opts: { ks: number[]; catalog?: ItemCatalog | null },
): Metrics | null {
  if (!recommendsColdItems(model)) return null;
  const coldRows: number[] = [];
  for (let r = 0; r < test.itemId.length; r++) if (model.items.indexOf(test.itemId[r]) < 0) coldRows.push(r);
  if (coldRows.length === 0) return null;
  const coldTest = selectRows(test, coldRows);
  const coldIds = IdMap.fromValues(coldTest.itemId).ids;
  // The extended catalogue: training items keep their indices, cold items follow.
  const extended = new IdMap(Int32Array.from([...model.items.ids, ...coldIds]));
  const trainSeen = seenMatrix(model, train);
  const seen: Csr = { ...trainSeen, nCols: extended.size };
  const targets = buildTargets(coldTest, model.users, extended, seen);
  const extend = model.recommendExtended.bind(model);
  const metrics = evaluateTargets(
    (users, k) => extend(users, k, seen, coldIds),
    { users: model.users, items: extended },
    targets,
    seen,
    extended.size,
    { ks: opts.ks, catalog: opts.catalog },
  );
  const out: Metrics = { [`${COLD_PREFIX}cold_items`]: coldIds.length };
  for (const [key, value] of Object.entries(metrics)) out[`${COLD_PREFIX}${key}`] = value;
  return out;
}

/** `evaluateModel` plus, for models that can score unseen items, the cold-item cohort's metrics. */
export function evaluateWithColdItems(model: Recommender, train: Interactions, test: Interactions, opts: EvalOptions): Metrics {
  const metrics = evaluateModel(model, train, test, opts);
  return opts.recommend ? metrics : { ...metrics, ...(evaluateColdItems(model, train, test, opts) ?? {}) };
}
