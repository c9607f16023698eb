import { existsSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { MAX_CUTOFF } from '../eval/evaluate.js';
import type { SplitSource } from '../pipeline/experiment.js';
import { SPLIT_STRATEGIES, type SplitStrategy } from '../split/split.js';
import { excerpt, InputError } from '../util/errors.js';

/** Option parsers and the option groups several commands share. */
export function intOption(name: string, min = -Infinity): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer${min > -Infinity ? ` ≥ ${min}` : ''}`);
    return n;
  };
}

export function floatOption(name: string): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number`);
    return n;
  };
}

export function cutoffsOption(v: string): number[] {
  const ks = v.split(',').map((s) => Number(s.trim()));
  if (ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1 || k > MAX_CUTOFF))
    throw new InvalidArgumentError(`--k must be a comma-separated list of integers from 1 to ${MAX_CUTOFF}, e.g. 10,20,50`);
  return ks;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export interface SplitCliOptions {
  split?: string;
  frac: number;
  n?: number;
  splitSeed: number;
}

/** --split STRATEGY|SPLIT_DIR, --frac, --n, --split-seed */
export function addSplitOptions(cmd: Command, defaultStrategy?: SplitStrategy): Command {
  return cmd
    .option(
      '--split <strategy|dir>',
      `split strategy (${SPLIT_STRATEGIES.join(', ')}) or a directory written by \`recsys split\``,
      defaultStrategy,
    )
    .option('--frac <f>', 'training fraction for temporal, temporal-user, random-user', floatOption('--frac'), 0.8)
    .option('--n <n>', 'test events per user for leave-last-n', intOption('--n', 1))
    .option('--split-seed <s>', 'seed of random-user splits', intOption('--split-seed'), 42);
}

export function splitSourceFrom(o: SplitCliOptions): SplitSource | undefined {
  if (o.split === undefined) return undefined;
  if ((SPLIT_STRATEGIES as readonly string[]).includes(o.split)) {
    return { strategy: o.split as SplitStrategy, frac: o.frac, n: o.n, seed: o.splitSeed };
  }
  if (existsSync(o.split)) return { dir: o.split };
  throw new InputError(`--split ${excerpt(o.split)} is neither a strategy (${SPLIT_STRATEGIES.join(', ')}) nor a split directory`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
