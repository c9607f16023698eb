import { Command } from 'commander';
import { compactLog } from '../../events/compact.js';
import { DEFAULT_STREAM, drainRedisStream } from '../../events/redis-stream-sink.js';
import { connectRedis } from '../../serve/cache/redis-client.js';
import { InputError } from '../../util/errors.js';
import { printJson } from '../options.js';

/** `recsys events`: maintenance of an event log directory (docs/events.md). */
export function eventsCommand(): Command {
  const cmd = new Command('events').description('maintain the exposure and event log (docs/events.md)');
  cmd
    .command('compact')
    .description('turn the log segments no writer appends to any more into Parquet, then remove them')
    .requiredOption('--logs <dir>', 'the log directory (holding segments/)')
    .option('--json', 'print JSON', false)
    .action(async (o: { logs: string; json: boolean }) => {
      const r = await compactLog(o.logs);
      if (o.json) printJson(r);
      else if (r.batch === null) process.stdout.write(`${o.logs}: nothing to compact\n`);
      else
        process.stdout.write(
          `${o.logs}: ${r.segments} segments → batch ${r.batch}: ${r.exposures} exposures (${r.exposureRows} rows), ${r.events} events` +
            `${r.bad + r.torn > 0 ? `; ${r.bad} bad and ${r.torn} torn lines dropped` : ''}\n`,
        );
    });
  cmd
    .command('drain')
    .description('copy the records of a Redis stream not drained before into a local log directory')
    .requiredOption('--logs <dir>', 'the local log directory to write to')
    .option('--redis <url>', 'redis://HOST:PORT[/DB] (default: REDIS_URL)')
    .option('--stream <key>', 'the stream key', DEFAULT_STREAM)
    .option('--trim', 'remove the drained entries from the stream', false)
    .option('--json', 'print JSON', false)
    .action(async (o: { logs: string; redis?: string; stream: string; trim: boolean; json: boolean }) => {
      const url = o.redis ?? process.env.REDIS_URL;
      if (!url) throw new InputError('events drain needs a Redis server: --redis redis://HOST:PORT (or REDIS_URL)');
      const client = await connectRedis(url);
      try {
        const r = await drainRedisStream(client, { stream: o.stream, dir: o.logs, trim: o.trim });
        if (o.json) printJson(r);
        else process.stdout.write(`${o.stream} → ${o.logs}: ${r.records} records (up to entry ${r.lastId ?? 'none'})\n`);
      } finally {
        client.disconnect();
      }
    });
  return cmd;
}
