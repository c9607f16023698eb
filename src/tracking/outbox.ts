import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError, RecsysError } from '../util/errors.js';
import { processAlive, writeJsonAtomic } from '../util/fs.js';
import { log } from '../util/log.js';
import { Progress } from '../util/progress.js';
import type { LogBatchBody } from './entities.js';
import { DEFAULT_RETRY_POLICY, MlflowApiError, MlflowHttpClient, type RetryPolicy } from './http-client.js';
import { ExperimentIds, createRun, logBatch, updateRun, type CreateRunBody, type UpdateRunBody } from './mlflow-api.js';

/**
 * Requests a tracking server could not take, kept as JSON lines under the artifact root and
 * replayed in order by `syncOutbox` (`recsys tracking sync`). A run that could not even be
 * created has a local id (`local-<hex>`); the sync creates it and maps later requests to the
 * server's run id.
 *
 * Files under the root:
 * - `.tracking-outbox.jsonl`: requests waiting; trackers append, one line each.
 * - `.tracking-outbox.sending.jsonl` + `.progress`: the batch a sync is working on (the outbox
 *   renamed, so trackers can keep appending) and one byte per entry already handled, so an
 *   interrupted sync resumes where it stopped and sends nothing twice.
 * - `.tracking-outbox.ids.json`: local run id → server run id.
 * - `.tracking-outbox.rejected.jsonl`: requests the server refused (bad request, unknown run),
 *   with the error; replaying them again would fail the same way.
 */
export const OUTBOX_FILE = '.tracking-outbox.jsonl';
const SENDING_FILE = '.tracking-outbox.sending.jsonl';
const PROGRESS_FILE = '.tracking-outbox.sending.progress';
const IDS_FILE = '.tracking-outbox.ids.json';
export const REJECTED_FILE = '.tracking-outbox.rejected.jsonl';
const LOCK_FILE = '.tracking-outbox.lock';

export type RunRef = { run_id: string } | { local_run_id: string };

export type OutboxRequest =
  | { op: 'create-run'; local_run_id: string; experiment_name: string; body: CreateRunBody }
  | { op: 'log-batch'; run: RunRef; body: LogBatchBody }
  | { op: 'update-run'; run: RunRef; body: UpdateRunBody };

/** One outbox line: the request, the server it was meant for, and when it was queued. */
export type OutboxEntry = OutboxRequest & { v: 1; uri: string; queued_at: number };

export function outboxPath(root: string): string {
  return join(root, OUTBOX_FILE);
}

export function outboxEntry(uri: string, request: OutboxRequest): OutboxEntry {
  return { v: 1, uri, queued_at: Date.now(), ...request };
}

/** Appends one request (a single write of one line, so concurrent appenders do not interleave). */
export function appendToOutbox(root: string, entry: OutboxEntry): void {
  appendLine(outboxPath(root), entry);
}

/** Keeps a request the server refused, with its error, for a person to look at. */
export function appendRejected(root: string, entry: OutboxEntry, error: string): void {
  appendLine(join(root, REJECTED_FILE), { ...entry, error });
}

function appendLine(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  appendFileSync(path, `${JSON.stringify(value)}\n`);
}

/**
 * Worth keeping for a later sync: the server was unreachable or overloaded (transient), or
 * refused our credentials (fixable). Any other refusal would be repeated on replay.
 */
export function keepForLater(err: MlflowApiError): boolean {
  return err.transient || err.httpStatus === 401 || err.httpStatus === 403;
}

export interface SyncResult {
  /** Requests the server accepted. */
  sent: number;
  /** Requests the server refused; moved to `.tracking-outbox.rejected.jsonl`. */
  failed: number;
  /** Requests still waiting because the server could not be reached; run the sync again. */
  pending: number;
}

/** Sends the outbox under `root` to the tracking server at `uri`, oldest request first. */
export async function syncOutbox(root: string, uri: string, retry: RetryPolicy = DEFAULT_RETRY_POLICY): Promise<SyncResult> {
  const result: SyncResult = { sent: 0, failed: 0, pending: 0 };
  if (!existsSync(outboxPath(root)) && !existsSync(join(root, SENDING_FILE))) return result;
  const release = acquireLock(root);
  try {
    const replayer = new Replayer(root, new MlflowHttpClient(uri, retry));
    for (;;) {
      const sendingPath = join(root, SENDING_FILE);
      if (!existsSync(sendingPath)) {
        if (!existsSync(outboxPath(root))) break;
        renameSync(outboxPath(root), sendingPath);
      }
      const progressPath = join(root, PROGRESS_FILE);
      let done = existsSync(progressPath) ? statSync(progressPath).size : 0;
      // Read again until nothing new: a tracker may have appended just as the file was renamed.
      for (let entries = readOutboxFile(sendingPath); done < entries.length; entries = readOutboxFile(sendingPath)) {
        const progress = new Progress('tracking sync', entries.length - done, 'requests');
        for (; done < entries.length; done++) {
          const outcome = await replayer.replay(entries[done]);
          if (outcome === 'later') {
            result.pending = entries.length - done + countEntries(outboxPath(root));
            progress.finish({ ...result });
            log.warn(`tracking sync: ${uri} did not take the requests (${replayer.lastError}); ${result.pending} still waiting in ${root}`);
            return result;
          }
          if (outcome === 'sent') result.sent++;
          else result.failed++;
          appendFileSync(progressPath, '.');
          progress.tick();
        }
        progress.finish({ ...result });
      }
      rmSync(sendingPath);
      rmSync(progressPath, { force: true });
    }
    return result;
  } finally {
    release();
  }
}

type ReplayOutcome = 'sent' | 'rejected' | 'later';

class Replayer {
  private readonly idsPath: string;
  private readonly serverRunIds: Record<string, string>;
  private readonly experimentIds: ExperimentIds;
  private warnedUri = false;
  /** Why the last request had to wait for a later sync. */
  lastError = '';

  constructor(
    private readonly root: string,
    private readonly client: MlflowHttpClient,
  ) {
    this.experimentIds = new ExperimentIds(client);
    this.idsPath = join(root, IDS_FILE);
    this.serverRunIds = existsSync(this.idsPath) ? (JSON.parse(readFileSync(this.idsPath, 'utf8')) as Record<string, string>) : {};
  }

  async replay(entry: OutboxEntry): Promise<ReplayOutcome> {
    if (entry.uri !== this.client.uri && !this.warnedUri) {
      this.warnedUri = true;
      log.warn(`tracking sync: the outbox was written for ${entry.uri}; sending it to ${this.client.uri}`);
    }
    try {
      await this.send(entry);
      return 'sent';
    } catch (err) {
      if (err instanceof MlflowApiError && keepForLater(err)) {
        this.lastError = err.message;
        return 'later';
      }
      if (!(err instanceof MlflowApiError) && !(err instanceof UnknownRunError)) throw err;
      appendRejected(this.root, entry, err.message);
      log.warn(`tracking sync: ${entry.op} refused: ${err.message}; kept in ${REJECTED_FILE}`);
      return 'rejected';
    }
  }

  private async send(entry: OutboxEntry): Promise<void> {
    switch (entry.op) {
      case 'create-run': {
        // Already created by an earlier, interrupted sync: creating it again would duplicate it.
        if (this.serverRunIds[entry.local_run_id] !== undefined) return;
        const experimentId = await this.experimentIds.get(entry.experiment_name);
        const info = await createRun(this.client, experimentId, entry.body);
        this.serverRunIds[entry.local_run_id] = info.run_id;
        writeJsonAtomic(this.idsPath, this.serverRunIds);
        return;
      }
      case 'log-batch':
        return logBatch(this.client, this.serverRunId(entry.run), entry.body);
      case 'update-run':
        await updateRun(this.client, this.serverRunId(entry.run), entry.body);
        return;
    }
  }

  private serverRunId(ref: RunRef): string {
    if ('run_id' in ref) return ref.run_id;
    const id = this.serverRunIds[ref.local_run_id];
    if (id === undefined) throw new UnknownRunError(`run ${ref.local_run_id} was never created on the server`);
    return id;
  }
}

class UnknownRunError extends Error {}

const OPS = new Set(['create-run', 'log-batch', 'update-run']);

/**
 * The entries of an outbox file. A last line without its newline is a write cut short by a
 * crash and is skipped with a warning; any other bad line is an input error naming the line.
 */
export function readOutboxFile(path: string): OutboxEntry[] {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const entries: OutboxEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    const torn = i === lines.length - 1;
    let entry: Partial<OutboxEntry>;
    try {
      entry = JSON.parse(line) as Partial<OutboxEntry>;
    } catch {
      if (torn) {
        log.warn(`${path}:${i + 1}: incomplete last line (a write cut short); skipped`);
        continue;
      }
      throw new InputError(`${path}:${i + 1}: not a JSON outbox entry`);
    }
    if (entry.v !== 1) throw new InputError(`${path}:${i + 1}: field "v": expected 1, got ${JSON.stringify(entry.v)}`);
    if (!OPS.has(String(entry.op))) throw new InputError(`${path}:${i + 1}: field "op": unknown request ${JSON.stringify(entry.op)}`);
    entries.push(entry as OutboxEntry);
  }
  return entries;
}

function countEntries(path: string): number {
  return existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '').length
    : 0;
}

/** One sync at a time per root: a lock file holding the pid, taken over if that process is gone. */
function acquireLock(root: string): () => void {
  const path = join(root, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(path, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) {
        throw new RecsysError(`another tracking sync (pid ${pid}) is running on ${root}; lock ${path}`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new RecsysError(`could not take the tracking sync lock ${path}`);
}
