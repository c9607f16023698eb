import { type CountingLogSink, LocalLogStore, type LocalLogOptions, type LogSinkStats } from './log-store.js';
import type { LogRecord } from './records.js';
import { RedisStreamSink, type RedisStreamOptions } from './redis-stream-sink.js';

/** Where a server or the simulator logs to: a local directory, a Redis stream, or both. */
export interface LogSinkOptions {
  readonly local?: LocalLogOptions;
  readonly redis?: RedisStreamOptions;
}

/** The sink `opts` describe; with both, every record goes to both and the counts are their sums. */
export function openLogSink(opts: LogSinkOptions): CountingLogSink {
  const sinks: CountingLogSink[] = [];
  if (opts.local) sinks.push(new LocalLogStore(opts.local));
  if (opts.redis) sinks.push(new RedisStreamSink(opts.redis));
  if (sinks.length === 0) throw new Error('openLogSink: neither a local directory nor a Redis stream given');
  return sinks.length === 1 ? sinks[0] : new TeeSink(sinks);
}

class TeeSink implements CountingLogSink {
  constructor(private readonly sinks: readonly CountingLogSink[]) {}

  get stats(): LogSinkStats {
    const sum = (key: keyof LogSinkStats) => this.sinks.reduce((s, sink) => s + sink.stats[key], 0);
    return { appended: sum('appended'), written: sum('written'), dropped: sum('dropped'), writeErrors: sum('writeErrors') };
  }

  append(record: LogRecord): void {
    for (const sink of this.sinks) sink.append(record);
  }

  async flush(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.flush()));
  }

  async close(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.close()));
  }
}
