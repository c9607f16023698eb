import { COLD_PREFIX } from './cold-items.js';
import { ACCURACY_METRICS, LIST_METRICS, type Metrics } from './evaluate.js';

/** Cut-offs present in a metrics object, ascending. */
export function cutoffsOf(metrics: Metrics): number[] {
  const ks = new Set<number>();
  for (const key of Object.keys(metrics)) {
    const m = /@(\d+)$/.exec(key);
    if (m) ks.add(Number(m[1]));
  }
  return [...ks].sort((a, b) => a - b);
}

/** A readable table: one row per metric, one column per cut-off. */
export function formatMetricsTable(metrics: Metrics, title = ''): string {
  const cold = Object.keys(metrics).filter((k) => k.startsWith(COLD_PREFIX));
  if (cold.length > 0) {
    const main = Object.fromEntries(Object.entries(metrics).filter(([k]) => !k.startsWith(COLD_PREFIX)));
    const cohort = Object.fromEntries(cold.map((k) => [k.slice(COLD_PREFIX.length), metrics[k]]));
    return `${formatMetricsTable(main, title)}\n\n${formatMetricsTable(cohort, `cold-item cohort: ${cohort.cold_items} test items unseen in training, ranked among all items`)}`;
  }
  const ks = cutoffsOf(metrics);
  const names = [...ACCURACY_METRICS, ...LIST_METRICS];
  const width = Math.max(...names.map((n) => n.length));
  const lines: string[] = [];
  if (title) lines.push(title);
  lines.push(`${'metric'.padEnd(width)}  ${ks.map((k) => `@${k}`.padStart(9)).join('  ')}`);
  for (const name of names) {
    if (!ks.some((k) => metrics[`${name}@${k}`] !== undefined)) continue;
    const cells = ks.map((k) => {
      const v = metrics[`${name}@${k}`];
      return (v === undefined ? '-' : v.toFixed(4)).padStart(9);
    });
    lines.push(`${name.padEnd(width)}  ${cells.join('  ')}`);
  }
  lines.push(`users evaluated: ${metrics.users ?? 0}, candidate items: ${metrics.items ?? 0}`);
  return lines.join('\n');
}

/** Side-by-side table of several runs (e.g. models or funnel stages) for the chosen metrics. */
export function formatComparison(rows: Array<{ name: string; metrics: Metrics }>, columns: string[]): string {
  const nameWidth = Math.max(5, ...rows.map((r) => r.name.length));
  const colWidth = Math.max(10, ...columns.map((c) => c.length));
  const header = `${'model'.padEnd(nameWidth)}  ${columns.map((c) => c.padStart(colWidth)).join('  ')}`;
  const body = rows.map(
    (r) =>
      `${r.name.padEnd(nameWidth)}  ${columns.map((c) => (r.metrics[c] === undefined ? '-' : r.metrics[c].toFixed(4)).padStart(colWidth)).join('  ')}`,
  );
  return [header, ...body].join('\n');
}
