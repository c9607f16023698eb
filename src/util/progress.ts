import { log, quiet } from './log.js';

/**
 * Progress of a long loop: a redrawn bar with rate and ETA on a TTY, a plain line every
 * `intervalMs` otherwise (cron, CI), and a structured event when done.
 */
export class Progress {
  private done_ = 0;
  private readonly start = Date.now();
  private lastPrint = Date.now();
  private readonly tty = Boolean(process.stderr.isTTY) && !quiet();

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly unit = 'items',
    private readonly intervalMs = 10_000,
  ) {}

  tick(n = 1): void {
    this.done_ += n;
    const now = Date.now();
    if (this.tty ? now - this.lastPrint >= 100 : now - this.lastPrint >= this.intervalMs) {
      this.lastPrint = now;
      this.print(now);
    }
  }

  finish(fields: Record<string, unknown> = {}): number {
    const seconds = (Date.now() - this.start) / 1000;
    if (this.tty) process.stderr.write('\r\x1b[K');
    log.event('progress.done', { label: this.label, count: this.done_, seconds, ...fields });
    return seconds;
  }

  private print(now: number): void {
    const seconds = Math.max((now - this.start) / 1000, 1e-3);
    const rate = this.done_ / seconds;
    const frac = this.total > 0 ? Math.min(this.done_ / this.total, 1) : 0;
    const eta = rate > 0 ? (this.total - this.done_) / rate : Infinity;
    const stats = `${(frac * 100).toFixed(0)}% ${formatCount(this.done_)}/${formatCount(this.total)} ${formatCount(rate)} ${this.unit}/s ETA ${formatSeconds(eta)}`;
    if (this.tty) {
      const width = 24;
      const filled = Math.round(frac * width);
      process.stderr.write(`\r\x1b[K${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${stats}`);
    } else if (!quiet()) {
      process.stderr.write(`${this.label}: ${stats}\n`);
    }
  }
}

export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '?';
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${Math.round(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${Math.round((s % 3600) / 60)}m`;
}
