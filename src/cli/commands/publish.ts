import { Command } from 'commander';
import { onInterrupt } from '../../pipeline/interrupt.js';
import { DEFAULT_PREFIX, DEFAULT_TTL_SECONDS, MIN_TTL_SECONDS } from '../../serve/cache/protocol.js';
import { DEFAULT_BATCH_USERS, publishRecommendations } from '../../serve/cache/redis-publish.js';
import { InputError } from '../../util/errors.js';
import { intOption, printJson } from '../options.js';

/** `recsys publish`: a recs file into the Redis cache, switched in atomically (docs/serving.md). */
export function publishCommand(): Command {
  return new Command('publish')
    .description("load every user's batch recommendations into Redis as a new version, then switch the pointer to it atomically")
    .requiredOption(
      '--recs <file>',
      'recs.parquet of an artifact (artifacts/recs-*/latest/recs.parquet) or of `recsys recommend --all-users`',
    )
    .option('--redis <url>', 'redis://HOST:PORT[/DB] (default: REDIS_URL)')
    .option(
      '--ttl <seconds>',
      `lifetime of the version's keys (≥ ${MIN_TTL_SECONDS})`,
      intOption('--ttl', MIN_TTL_SECONDS),
      DEFAULT_TTL_SECONDS,
    )
    .option('--prefix <p>', 'key prefix', DEFAULT_PREFIX)
    .option('--name <n>', 'cache name under the prefix (default: the recs artifact name, or "recs")')
    .option('--batch <n>', 'users per pipelined round trip', intOption('--batch', 1), DEFAULT_BATCH_USERS)
    .option('--json', 'print JSON', false)
    .action(async (o: { recs: string; redis?: string; ttl: number; prefix: string; name?: string; batch: number; json: boolean }) => {
      const redis = o.redis ?? process.env.REDIS_URL;
      if (!redis) throw new InputError('publish needs a Redis server: --redis redis://HOST:PORT (or REDIS_URL)');
      const stop = new AbortController();
      const removeHandlers = onInterrupt(
        async () => stop.abort(),
        'the pointer stays on the version it named; the keys written so far expire with their TTL',
      );
      try {
        const r = await publishRecommendations({
          recs: o.recs,
          redis,
          ttlSeconds: o.ttl,
          prefix: o.prefix,
          name: o.name,
          batchUsers: o.batch,
          signal: stop.signal,
        });
        if (o.json) printJson(r);
        else
          process.stdout.write(
            `${r.users} users (${r.rows} rows) of version ${r.version} → ${r.redis} ${r.prefix}:${r.name}, ` +
              `pointer switched from ${r.previous ?? 'none'}; expires ${r.expires_at} (${r.seconds.toFixed(1)} s)\n`,
          );
      } finally {
        removeHandlers();
      }
    });
}
