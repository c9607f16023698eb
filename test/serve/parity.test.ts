import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servingSource } from '../../src/pipeline/serving.js';
import { buildServer } from '../../src/serve/server.js';
import { RecommendationService } from '../../src/serve/service.js';
import type { Answer } from '../../src/serve/types.js';
import { listsOf } from './recs-fixture.js';
import { servedPipeline, type ServedPipeline } from './served-pipeline.js';

/**
 * Train/serve parity: for every training user of ml-latest-small, `GET /recommend/:user?k=100`
 * answers exactly the rows the batch export (`recsys recommend --all-users --k 100`, the
 * pipeline's recommend step) wrote for that user: same items, ranks and channels, scores equal
 * as float32. The export is read back with DuckDB, independently of the server.
 */
let fx: ServedPipeline;

beforeAll(async () => {
  fx = await servedPipeline();
}, 600_000);

describe.each(['ranker', 'als', 'two-tower'])('%s: the server answers what the batch export wrote', (model) => {
  let service: RecommendationService;
  let app: ReturnType<typeof buildServer>;

  beforeAll(async () => {
    service = RecommendationService.create(servingSource({ model: join(fx.artifacts, `${model}-temporal-user`) }), {
      reloadIntervalMs: 0,
      lruSize: 0,
    });
    await service.start();
    app = buildServer(service);
  });

  afterAll(async () => {
    await app?.close();
    await service?.close();
  });

  it('for every one of the 610 training users, k = 100', async () => {
    const exported = await listsOf(join(fx.artifacts, `recs-${model}-temporal-user`, 'latest', 'recs.parquet'));
    expect(exported.size).toBe(610);
    let compared = 0;
    for (const [user, rows] of exported) {
      const res = await app.inject({ method: 'GET', url: `/recommend/${user}?k=100` });
      expect(res.statusCode).toBe(200);
      const answer = res.json() as Answer;
      expect(answer.path).toBe('live');
      expect(answer.version).toBe(service.serving?.version);
      expect(
        answer.items.map((i) => [i.item_id, i.rank, i.channel]),
        `user ${user}`,
      ).toEqual(rows.map((r) => [r.item_id, r.rank, r.channel]));
      expect(answer.items.map((i) => Math.fround(i.score))).toEqual(rows.map((r) => Math.fround(r.score)));
      // The greedy policy shows the list as exported: every placement certain.
      expect(answer.policy).toBe('greedy');
      expect(answer.items.every((i) => i.propensity === 1)).toBe(true);
      compared += rows.length;
    }
    // Every user has a full list of 100 on this data (8k items, at most a few thousand seen).
    expect(compared).toBe(610 * 100);
  }, 300_000);
});
