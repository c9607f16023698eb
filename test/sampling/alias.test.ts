import { describe, expect, it } from 'vitest';
import { AliasTable } from '../../src/sampling/alias.js';

/**
 * The probability the table gives each outcome, integrated without randomness: for every column,
 * the share of a fine grid of side-uniforms that lands on each item.
 */
function impliedProbabilities(table: AliasTable, grid: number): Float64Array {
  const p = new Float64Array(table.size);
  for (let c = 0; c < table.size; c++) {
    const uColumn = (c + 0.5) / table.size;
    for (let g = 0; g < grid; g++) p[table.draw(uColumn, (g + 0.5) / grid)] += 1 / (table.size * grid);
  }
  return p;
}

describe('AliasTable (Vose)', () => {
  it('reproduces the normalised weights, zeros included', () => {
    const weights = [0, 1, 2, 3, 10, 0.5, 7, 0, 40, 1];
    const total = weights.reduce((a, b) => a + b, 0);
    const p = impliedProbabilities(new AliasTable(weights), 100_000);
    weights.forEach((w, i) => expect(p[i]).toBeCloseTo(w / total, 4));
    expect(p[0]).toBe(0);
    expect(p[7]).toBe(0);
  });

  it('handles a single item and equal weights', () => {
    expect(new AliasTable([3]).draw(0.99, 0.99)).toBe(0);
    const p = impliedProbabilities(new AliasTable([2, 2, 2, 2]), 1000);
    for (const v of p) expect(v).toBeCloseTo(0.25, 12);
  });

  it('rejects weights it cannot sample from', () => {
    expect(() => new AliasTable([0, 0])).toThrow(/sum to 0/);
    expect(() => new AliasTable([1, -1])).toThrow(/weight 1 is -1/);
    expect(() => new AliasTable([1, Number.NaN])).toThrow(/weight 1 is NaN/);
  });
});
