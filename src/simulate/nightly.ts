import { join } from 'node:path';
import { loadDataset } from '../data/dataset.js';
import { type EventWeights, importEvents } from '../data/events-import.js';
import { buildTrainingData, type TrainingData } from '../data/training-data.js';
import { LocalLogStore } from '../events/log-store.js';
import type { RecordCollector } from './collector.js';

/**
 * The nightly job of a simulation kept in memory: the logs so far into the local log store at
 * `dir`/logs, imported over the base dataset (`recsys data import --format events --base`) into
 * `dir`/data, and returned as training data for a refit.
 */
export async function importNight(logs: RecordCollector, base: string, dir: string, weights?: EventWeights): Promise<TrainingData> {
  const logDir = join(dir, 'logs');
  const store = new LocalLogStore({ dir: logDir });
  for (const r of logs.exposures) store.append(r);
  for (const r of logs.events) store.append(r);
  await store.close();
  const out = join(dir, 'data');
  await importEvents({ input: logDir, out, base, weights });
  return buildTrainingData((await loadDataset(out)).interactions, { seed: 1 });
}
