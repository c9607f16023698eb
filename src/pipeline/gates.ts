import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MANIFEST_FILE, readManifest } from '../artifacts/store.js';
import { checkGates } from '../eval/gates.js';
import type { GateSpec } from './spec.js';
import { pipelineDetails } from './steps/artifacts.js';
import type { ReportRow } from './steps/step.js';
import { formatTable } from './table.js';

/**
 * The file's `gates:` on the rows of its eval steps. `fail_under` is an absolute lower bound;
 * `max_drop: {ndcg@10: 0.02}` lets the metric fall at most 2 % (relative) below what the
 * version `latest` pointed at before this one achieved on the same protocol, i.e. the bound
 * is previous × (1 − 0.02). Without a previous version the regression gate passes (noted).
 */
export interface GateResult {
  readonly split: string;
  readonly model: string;
  readonly gate: 'fail_under' | 'max_drop';
  readonly metric: string;
  readonly value: number | null;
  /** null: no previous version to compare with. */
  readonly bound: number | null;
  readonly previous: number | null;
  readonly passed: boolean;
}

/** The metrics the previous `latest` of a row's artifact recorded for the row's protocol. */
function previousMetrics(root: string, row: ReportRow): Record<string, number> | null {
  if (!row.artifact) return null;
  const dir = join(root, row.artifact.name, row.artifact.version);
  if (!existsSync(join(dir, MANIFEST_FILE))) return null;
  const previous = pipelineDetails(readManifest(dir))?.previous_latest;
  const previousDir = previous ? join(root, row.artifact.name, previous) : null;
  if (!previousDir || !existsSync(join(previousDir, MANIFEST_FILE))) return null;
  return readManifest(previousDir).metrics[row.protocol] ?? null;
}

export function checkPipelineGates(rows: readonly ReportRow[], gates: readonly GateSpec[], root: string): GateResult[] {
  const results: GateResult[] = [];
  for (const row of rows) {
    if (row.model === undefined) continue;
    const model = row.model;
    const applicable = gates.filter(
      (g) => (g.split === undefined || g.split === row.split) && (g.model === undefined || g.model === model),
    );
    if (applicable.length === 0) continue;
    const previous = previousMetrics(root, row);
    const check = (gate: GateResult['gate'], metric: string, bound: number | null, prev: number | null): void => {
      const passed = bound === null || checkGates(row.metrics, [{ metric, min: bound }]).length === 0;
      results.push({ split: row.split, model, gate, metric, value: row.metrics[metric] ?? null, bound, previous: prev, passed });
    };
    for (const g of applicable) {
      for (const [metric, min] of Object.entries(g.fail_under)) check('fail_under', metric, min, null);
      for (const [metric, drop] of Object.entries(g.max_drop)) {
        const prev = previous?.[metric] ?? null;
        check('max_drop', metric, prev === null ? null : prev * (1 - drop), prev);
      }
    }
  }
  return results;
}

export function formatGateTable(results: readonly GateResult[]): string {
  const num = (v: number | null): string => (v === null ? '-' : v.toFixed(4));
  return formatTable(
    ['split', 'model', 'gate', 'metric', 'value', 'bound', 'previous', 'result'],
    results.map((r) => [
      r.split,
      r.model,
      r.gate,
      r.metric,
      num(r.value),
      num(r.bound),
      num(r.previous),
      r.passed ? (r.bound === null ? 'ok (no previous version)' : 'ok') : 'FAILED',
    ]),
  );
}
