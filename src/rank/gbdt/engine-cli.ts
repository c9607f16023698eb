import type { DataFileInput } from './data-files.js';
import type { GbdtEngine } from './engine.js';
import type { GbdtParams } from './params.js';
import type { Env } from './program.js';

/** One validation metric value the program printed after a boosting round. */
export interface MetricLine {
  /** 1-based boosting round. */
  readonly iteration: number;
  /** e.g. "ndcg@10". */
  readonly metric: string;
  readonly value: number;
}

/**
 * How to drive one engine's command-line program. Every file is named relative to the working
 * directory the program runs in, so paths never need quoting in config files.
 */
export interface EngineCli {
  readonly engine: GbdtEngine;
  readonly modelFile: string;
  /** Writes a data set as `<name>.<ext>` into `dir`; returns how config files refer to it. */
  writeData(dir: string, name: string, data: DataFileInput): string;
  trainConfig(params: GbdtParams, files: { train: string; valid: string | null; model: string }): string;
  /** Config for a raw-score prediction of `data` into `output`, one score per line. */
  predictConfig(files: { model: string; data: string; output: string }): string;
  /** Command-line arguments that run a config file. */
  args(configFile: string): string[];
  /** Validation metrics printed on one log line (none for other lines). */
  parseLogLine(line: string): MetricLine[];
  /** The program's version, when it can tell. */
  version(program: string, env: Env): Promise<string | null>;
}
