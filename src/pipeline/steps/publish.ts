import { join } from 'node:path';
import { z } from 'zod';
import { createArtifact } from '../../artifacts/store.js';
import { checkKeyPart, DEFAULT_PREFIX, DEFAULT_TTL_SECONDS, MIN_TTL_SECONDS } from '../../serve/cache/protocol.js';
import { parseRedisUrl, redactUrl } from '../../serve/cache/redis-client.js';
import { DEFAULT_BATCH_USERS, publishRecommendations } from '../../serve/cache/redis-publish.js';
import { RecsysError } from '../../util/errors.js';
import { writeJsonAtomic } from '../../util/fs.js';
import { contentHash, requireLatest } from './artifacts.js';
import { modelStepGraph, modelStepKeys, modelStepSplit } from './model-step.js';
import { RECS_FILE, recsArtifactName } from './recommend.js';
import type { DocIssue, StepKind } from './step.js';

/**
 * `- kind: publish`: `recsys publish` of the latest batch export of a recommend step into the
 * Redis cache (docs/serving.md). It records what it published in an artifact
 * `publish-<model>-<split>` (publish.json), and is never skipped as unchanged: the cache lives
 * outside the artifact root (its keys expire, a server may be replaced), and publishing the
 * same version again is harmless: it rewrites the same lists and extends their TTL.
 */
export const PUBLISH_REPORT_FILE = 'publish.json';

const schema = z
  .object({
    /** The recommend step (its `model`) whose recs.parquet is published. */
    ...modelStepKeys,
    /** redis://HOST:PORT[/DB]; default: the REDIS_URL environment variable. */
    redis: z.string().optional(),
    ttl: z.number().int().min(MIN_TTL_SECONDS).default(DEFAULT_TTL_SECONDS),
    prefix: z.string().default(DEFAULT_PREFIX),
    /** Default: the recs artifact's name, recs-<model>-<split>. */
    name: z.string().optional(),
    batch_size: z.number().int().min(1).default(DEFAULT_BATCH_USERS),
  })
  .strict();

type PublishOptions = z.infer<typeof schema>;

export function publishArtifactName(model: string, split: string): string {
  return `publish-${model}-${split}`;
}

function redisUrlOf(o: PublishOptions): string | undefined {
  return o.redis ?? (process.env.REDIS_URL || undefined);
}

/** An InputError thrown by `check` as an issue at `path`. */
function issueOf(path: DocIssue['path'], check: () => unknown): DocIssue[] {
  try {
    check();
    return [];
  } catch (err) {
    if (!(err instanceof RecsysError)) throw err;
    return [{ path, message: err.message }];
  }
}

const graph = modelStepGraph('publish', publishArtifactName, {
  tokenKind: 'recs',
  missing: (model, split) => `no recommend step before this one exports "${model}" on split "${split}"`,
});

export const publishStep: StepKind<PublishOptions> = {
  kind: 'publish',
  module: import.meta.url,
  schema,
  ...graph,
  check(o, at) {
    const path = (key: string): DocIssue['path'] => ['steps', at.step, key];
    const url = redisUrlOf(o);
    return [
      ...graph.check(o, at),
      ...(url === undefined
        ? [
            {
              path: path('redis'),
              message: 'no Redis server: set redis: redis://HOST:PORT in the step, or the REDIS_URL environment variable',
            },
          ]
        : issueOf(path('redis'), () => parseRedisUrl(url, 'redis'))),
      ...issueOf(path('prefix'), () => checkKeyPart('prefix', o.prefix)),
      ...(o.name === undefined ? [] : issueOf(path('name'), () => checkKeyPart('name', o.name as string))),
    ];
  },
  plan(o, { head, step }) {
    const split = modelStepSplit(o, head);
    const output = publishArtifactName(o.model, split);
    const source = recsArtifactName(o.model, split);
    const redis = redisUrlOf(o) ?? '';
    // The URL may carry a password: only its redacted form goes into params, manifests and logs.
    const config = {
      model: o.model,
      split,
      redis: redactUrl(parseRedisUrl(redis, 'redis')),
      ttl: o.ttl,
      prefix: o.prefix,
      name: o.name ?? source,
    };
    let recsDir = '';
    return [
      {
        step,
        kind: 'publish',
        label: `publish ${source}`,
        output,
        split,
        config,
        async inputs() {
          const input = requireLatest(head.artifacts, source, `the recommend step of "${o.model}"`);
          recsDir = input.dir;
          return { identity: { recs: contentHash(input.manifest) }, lineage: [input.ref], tags: {} };
        },
        current: () => null,
        async run(work) {
          const { dir } = await createArtifact(
            head.artifacts,
            output,
            { kind: 'publication', config, lineage: work.lineage, details: { pipeline: work.details } },
            async (tmp) => {
              const report = await publishRecommendations({
                recs: join(recsDir, RECS_FILE),
                redis,
                ttlSeconds: o.ttl,
                prefix: o.prefix,
                name: config.name,
                batchUsers: o.batch_size,
              });
              writeJsonAtomic(join(tmp, PUBLISH_REPORT_FILE), report);
              work.run.logMetrics({ users: report.users, rows: report.rows, seconds: report.seconds });
              work.processed(report.rows);
            },
            { finish: work.finish },
          );
          return dir;
        },
        report: () => [],
      },
    ];
  },
};
