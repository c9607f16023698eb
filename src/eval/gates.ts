import { excerpt, GateError, InputError } from '../util/errors.js';
import { ACCURACY_METRICS, LIST_METRICS, type Metrics } from './evaluate.js';

/** A lower bound on a metric, e.g. `ndcg@10=0.05` from `--fail-under`. */
export interface Gate {
  readonly metric: string;
  readonly min: number;
}

export function parseGate(text: string): Gate {
  const m = /^([a-z_]+@\d+|users)=([0-9.eE+-]+)$/.exec(text.trim());
  if (!m || !Number.isFinite(Number(m[2])))
    throw new InputError(`--fail-under ${excerpt(text)}: expected METRIC@K=VALUE, e.g. ndcg@10=0.05`);
  return { metric: m[1], min: Number(m[2]) };
}

/**
 * A gate on a metric the evaluation will not compute (a typo, or a cut-off not in `ks`) is a
 * configuration error, found before evaluating: it would otherwise read as a breached gate.
 */
export function checkGateMetrics(gates: readonly Gate[], ks: readonly number[]): void {
  const names: readonly string[] = [...ACCURACY_METRICS, ...LIST_METRICS];
  for (const { metric } of gates) {
    if (metric === 'users') continue;
    const [name, k] = metric.split('@');
    if (!names.includes(name))
      throw new InputError(`--fail-under ${excerpt(metric)}: unknown metric; expected one of: ${names.join(', ')}, or users`);
    if (!ks.includes(Number(k))) throw new InputError(`--fail-under ${metric}: cut-off @${k} is not evaluated (--k ${ks.join(',')})`);
  }
}

export interface GateBreach {
  readonly metric: string;
  readonly value: number | null;
  readonly bound: number;
}

export function checkGates(metrics: Metrics, gates: Gate[]): GateBreach[] {
  const breaches: GateBreach[] = [];
  for (const g of gates) {
    const value = metrics[g.metric];
    if (value === undefined || !(value >= g.min)) breaches.push({ metric: g.metric, value: value ?? null, bound: g.min });
  }
  return breaches;
}

/** Throws a GateError (exit code 3) naming every breached metric, its value and bound. */
export function enforceGates(metrics: Metrics, gates: Gate[]): void {
  const breaches = checkGates(metrics, gates);
  if (breaches.length === 0) return;
  const lines = breaches.map((b) =>
    b.value === null ? `${b.metric}: not computed (bound ${b.bound})` : `${b.metric} = ${b.value.toFixed(6)} is below the bound ${b.bound}`,
  );
  throw new GateError(`quality gate failed:\n  ${lines.join('\n  ')}`);
}
