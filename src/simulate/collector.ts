import type { ExposureRecord, LogRecord, LogSink, UserEventRecord } from '../events/records.js';

/**
 * A LogSink that keeps the records in memory, split by kind, as the log reader returns them:
 * the simulator's fast path over many seeds analyses its logs without a disk round trip.
 */
export class RecordCollector implements LogSink {
  readonly exposures: ExposureRecord[] = [];
  readonly events: UserEventRecord[] = [];

  append(record: LogRecord): void {
    if (record.kind === 'exposure') this.exposures.push(record);
    else this.events.push(record);
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}
