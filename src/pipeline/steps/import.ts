import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { DATASET_OUTPUT, META_FILE } from '../../data/dataset.js';
import { importEvents } from '../../data/events-import.js';
import { importDataset, readImport } from '../../data/import.js';
import { logFiles } from '../../events/log-reader.js';
import { writeJsonAtomic } from '../../util/fs.js';
import { claimOutput } from '../../util/output.js';
import { sha256File } from '../../util/hash.js';
import { reachPhase } from '../../util/phase.js';
import type { DataSpec } from '../spec.js';
import type { StepKind, UnitInputs, UnitState } from './step.js';

/**
 * `- kind: import`: the `data:` section's input in, the dataset directory `data.out` out.
 * The dataset directory is not a versioned artifact (the other commands read it by path); a
 * sidecar beside dataset.json records the fingerprint and the inputs' sizes, times and sha256,
 * so an unchanged input is not hashed again.
 */
export const IMPORT_RECORD_FILE = 'pipeline-import.json';

interface InputFile {
  readonly path: string;
  readonly bytes: number;
  readonly mtime_ms: number;
  readonly sha256: string;
}

interface ImportRecord {
  readonly fingerprint: string;
  readonly inputs: InputFile[];
}

/** The files `importDataset` reads (and copies) for a format, and the event log's files when it appends one. */
function inputFiles(data: DataSpec): string[] {
  const input = resolve(data.in ?? '');
  const dir = data.format === 'csv' ? dirname(input) : input;
  const named = { movielens: ['ratings.csv', 'movies.csv', 'tags.csv'], ml100k: ['u.data', 'u.item', 'u.genre'], csv: [] }[data.format];
  const files = [...(data.format === 'csv' ? [input] : []), ...[...named, 'README.txt', 'README'].map((f) => join(dir, f))];
  return [...files, ...(data.events ? logFiles(data.events.logs) : [])].filter((f) => existsSync(f) && statSync(f).isFile());
}

function readRecord(out: string): ImportRecord | null {
  const path = join(out, IMPORT_RECORD_FILE);
  if (!existsSync(path) || !existsSync(join(out, META_FILE))) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ImportRecord;
  } catch {
    return null;
  }
}

/** sha256 of each input, reusing the recorded one when size and modification time are unchanged. */
async function describeInputs(data: DataSpec): Promise<InputFile[]> {
  const known = new Map((readRecord(data.out)?.inputs ?? []).map((f) => [f.path, f]));
  const out: InputFile[] = [];
  for (const path of inputFiles(data)) {
    const st = statSync(path);
    const prev = known.get(path);
    const sha256 = prev && prev.bytes === st.size && prev.mtime_ms === st.mtimeMs ? prev.sha256 : await sha256File(path);
    out.push({ path, bytes: st.size, mtime_ms: st.mtimeMs, sha256 });
  }
  return out;
}

export const importStep: StepKind<Record<string, never>> = {
  kind: 'import',
  module: import.meta.url,
  schema: z.object({}).strict(),
  produces: () => [{ token: 'dataset', output: 'dataset' }],
  needs: () => [],
  check(_options, { head, step }) {
    const input = head.data.in;
    if (input === undefined) return [{ path: ['data'], message: `data.in is required by the import step (steps[${step}])` }];
    const logs = head.data.events?.logs;
    return [
      ...(existsSync(input) ? [] : [{ path: ['data', 'in'], message: `${input}: no such file or directory` }]),
      ...(logs === undefined || existsSync(logs) ? [] : [{ path: ['data', 'events', 'logs'], message: `${logs}: no such log directory` }]),
    ];
  },
  plan(_options, { head, step }) {
    const data = head.data;
    let described: InputFile[] = [];
    return [
      {
        step,
        kind: 'import',
        label: 'import',
        output: data.out,
        claim: () =>
          claimOutput(data.out, DATASET_OUTPUT, {
            inputs: [...(data.in === undefined ? [] : [data.in]), ...(data.events ? [data.events.logs] : [])],
          }),
        config: {
          format: data.format,
          in: data.in,
          columns: data.columns,
          delimiter: data.delimiter,
          encoding: data.encoding,
          timestamp_unit: data.timestamp_unit,
          skip_bad: data.skip_bad,
          events: data.events,
        },
        async inputs(): Promise<UnitInputs> {
          described = await describeInputs(data);
          // Content only: the same files under another path are the same input.
          return { identity: { files: described.map((f) => [f.path.slice(dirname(f.path).length + 1), f.sha256]) }, lineage: [], tags: {} };
        },
        current(): UnitState | null {
          const record = readRecord(data.out);
          return record ? { fingerprint: record.fingerprint, dir: data.out, version: null } : null;
        },
        async run(work) {
          const source = {
            format: data.format,
            input: data.in ?? '',
            skipBad: data.skip_bad,
            columns: data.columns,
            delimiter: data.delimiter,
            encoding: data.encoding,
            timestampUnit: data.timestamp_unit,
          };
          const events = data.events;
          const meta = events
            ? await importEvents({
                input: events.logs,
                out: data.out,
                weights: events.weights,
                base: await readImport(source),
                skipBad: data.skip_bad,
              })
            : await importDataset({ ...source, out: data.out });
          work.run.setTags({ 'recsys.dataset.sha256': meta.interactions_sha256 });
          work.processed(meta.counts.interactions);
          await work.finish(data.out);
          await reachPhase('import.written', data.out);
          // Written last: without it the next run imports again.
          writeJsonAtomic(join(data.out, IMPORT_RECORD_FILE), { fingerprint: work.fingerprint, inputs: described } satisfies ImportRecord);
          return data.out;
        },
        report: () => [],
      },
    ];
  },
};
