/**
 * The package's library entry point (`import { openRecommender } from 'recsys'`): serving the
 * pipeline's artifacts inside a Node.js service, the same code `recsys serve` runs
 * (docs/serving.md, "Library").
 */
import { type ServeTarget, servingSource } from './pipeline/serving.js';
import { RecommendationService, type ServiceOptions } from './serve/service.js';

export { loadServingModel, type ServeTarget, servingPolicy, servingSource } from './pipeline/serving.js';
export { MAX_K, MAX_LIST } from './serve/request.js';
export { buildServer } from './serve/server.js';
export { RecommendationService, type RequestOptions, type ServiceOptions } from './serve/service.js';
export { memorySessions } from './serve/session/memory-sessions.js';
export { openRedisSessions } from './serve/session/redis-sessions.js';
export type { SessionEvent, SessionStore } from './serve/session/session-store.js';
export type { EventInput } from './serve/request.js';
export type { Answer, AnsweredItem, AnswerPath, RecsCache, ShownAnswerItem } from './serve/types.js';

/**
 * Opens a model artifact (`{ model: 'artifacts/ranker-temporal-user' }`) or the model a
 * pipeline file exports (`{ pipeline: 'pipelines/movielens.yaml' }`), loads its latest version
 * and follows `latest` from then on. Close it when done.
 */
export async function openRecommender(target: ServeTarget, opts: ServiceOptions = {}): Promise<RecommendationService> {
  const service = RecommendationService.create(servingSource(target), opts);
  await service.start();
  return service;
}
