import { relative } from 'node:path';
import { formatComparison } from '../eval/report.js';
import { formatGateTable } from './gates.js';
import type { PipelineOutcome } from './runner.js';
import { formatTable } from './table.js';

/** The summary a pipeline command prints: what ran, the metrics of every model and stage per split, the gates. */
export function formatOutcome(outcome: PipelineOutcome, ks: readonly number[]): string {
  const parts: string[] = [];
  parts.push(
    formatTable(
      ['step', 'unit', 'status', 'seconds', 'output'],
      outcome.units.map((u) => [
        String(u.step),
        u.label,
        u.status === 'skipped' ? 'skipped (unchanged)' : 'ran',
        u.seconds.toFixed(1),
        relative(process.cwd(), u.dir) || '.',
      ]),
    ),
  );
  const columns = [
    ...ks.flatMap((k) => [`ndcg@${k}`, `recall@${k}`]),
    ...['precision', 'map', 'mrr', 'coverage'].map((m) => `${m}@${ks[0]}`),
  ];
  for (const split of [...new Set(outcome.rows.map((r) => r.split))]) {
    const rows = outcome.rows.filter((r) => r.split === split);
    parts.push(`metrics on split ${split} (${rows[0].protocol})\n${formatComparison(rows, columns)}`);
  }
  if (outcome.gates.length > 0) parts.push(`gates\n${formatGateTable(outcome.gates)}`);
  return parts.join('\n\n');
}
