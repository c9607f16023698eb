import type { FoldsInHistory, Recommender } from '../../models/model.js';
import type { HistoryRecommender, SessionRecommender } from '../types.js';

/** A model that folds a history in itself (ALS: the exact least-squares solve) as a history recommender. */
export function foldInHistory(model: Recommender & FoldsInHistory): HistoryRecommender {
  return {
    channel: model.kind,
    recommend: async (items, k) => model.recommendFromHistory(items, null, k),
    close: async () => {},
  };
}

/** A training user's session folded in with their training items (ALS: the same solve over both). */
export function foldInSession(model: Recommender & FoldsInHistory): SessionRecommender {
  return {
    recommendWithSession: async (_user, trained, session, k) => {
      const items = new Int32Array(trained.length + session.length);
      items.set(trained);
      items.set(session, trained.length);
      return model.recommendFromHistory(items, null, k);
    },
  };
}
