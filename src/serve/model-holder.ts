import { describeError } from '../util/errors.js';
import { log } from '../util/log.js';
import type { ServingModel } from './serving-model.js';

/** Where the served model comes from: the version directory to serve now, and how to load one. */
export interface ModelSource {
  /** What is watched, for messages (e.g. artifacts/ranker-temporal-user/latest). */
  readonly target: string;
  /** The version directory the target names now (a `latest` link resolved). */
  resolve(): string;
  load(versionDir: string): Promise<ServingModel>;
}

export interface ReloadEvents {
  onReload?(result: 'ok' | 'failed', model: ServingModel | null, seconds: number): void;
}

interface Held {
  readonly model: ServingModel;
  users: number;
  retired: boolean;
}

/**
 * The model version being served, switched atomically when the source names a new one: the
 * new version is loaded in the background while the old one answers; a request holds the
 * version it started on until it ends (`use`), and an old version is closed once no request
 * holds it. A version that fails to load leaves the old one serving (an error line, and the
 * `failed` event); it is not tried again until the source names another version.
 */
export class ModelHolder {
  private held: Held | null = null;
  private failedDir: string | null = null;
  private loading: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly source: ModelSource,
    private readonly events: ReloadEvents = {},
  ) {}

  /** Loads the current version; throws when it cannot be loaded (nothing to serve yet). */
  async start(): Promise<ServingModel> {
    const dir = this.source.resolve();
    const model = await this.source.load(dir);
    this.held = { model, users: 0, retired: false };
    return model;
  }

  /** Checks the source every `intervalMs` (a `latest` link is a cheap readlink). */
  watch(intervalMs: number): void {
    this.timer = setInterval(() => void this.check(), intervalMs);
    this.timer.unref();
  }

  get current(): ServingModel | null {
    return this.held?.model ?? null;
  }

  /** Runs `fn` on the current version, which stays open until `fn` settles. */
  async use<T>(fn: (model: ServingModel) => T | Promise<T>): Promise<T> {
    const held = this.held;
    if (held === null) throw new Error('no model loaded');
    held.users++;
    try {
      return await fn(held.model);
    } finally {
      held.users--;
      if (held.retired && held.users === 0) await this.release(held);
    }
  }

  /** Loads the version the source names now, if it is new; resolves when done (one load at a time). */
  check(): Promise<void> {
    this.loading ??= this.reload().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async reload(): Promise<void> {
    let dir: string;
    try {
      dir = this.source.resolve();
    } catch (err) {
      // latest being replaced, or removed: keep serving what we have.
      log.event('serve.resolve_failed', { target: this.source.target, error: (err as Error).message });
      return;
    }
    if (dir === this.held?.model.dir || dir === this.failedDir) return;
    const started = performance.now();
    let model: ServingModel;
    try {
      model = await this.source.load(dir);
    } catch (err) {
      this.failedDir = dir;
      log.error(`serve: ${dir} failed to load, still serving ${this.held?.model.version ?? 'nothing'}: ${describeError(err).message}`);
      log.event('serve.reload', { result: 'failed', dir, error: (err as Error).message });
      this.events.onReload?.('failed', null, (performance.now() - started) / 1000);
      return;
    }
    const old = this.held;
    this.held = { model, users: 0, retired: false };
    this.failedDir = null;
    const seconds = (performance.now() - started) / 1000;
    log.info(
      `serve: now serving ${model.name} ${model.version} (was ${old?.model.version ?? 'nothing'}; loaded in ${seconds.toFixed(2)} s)`,
    );
    log.event('serve.reload', { result: 'ok', dir, version: model.version, previous: old?.model.version ?? null, seconds });
    this.events.onReload?.('ok', model, seconds);
    if (old) {
      old.retired = true;
      if (old.users === 0) await this.release(old);
    }
  }

  private async release(held: Held): Promise<void> {
    try {
      await held.model.close();
    } catch (err) {
      log.warn(`serve: closing ${held.model.version}: ${(err as Error).message}`);
    }
  }

  /** Stops watching and closes the served version. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.loading;
    const held = this.held;
    this.held = null;
    if (held) await this.release(held);
  }
}
