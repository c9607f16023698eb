import type { FoldsInHistory, Recommender } from '../../models/model.js';
import type { HistoryRecommender } from '../types.js';

/** A model that folds a history in itself (ALS: the exact least-squares solve) as a history recommender. */
export function foldInHistory(model: Recommender & FoldsInHistory): HistoryRecommender {
  return {
    channel: model.kind,
    recommend: async (items, k) => model.recommendFromHistory(items, null, k),
    close: async () => {},
  };
}
