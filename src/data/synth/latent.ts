import type { Rng } from '../../util/rng.js';

/**
 * Planted latent vectors: rows of `dim` floats in flat Float32Arrays. Item vectors and user
 * tastes share one space, built from genre directions plus an idiosyncratic part, so that
 * taste · item is the affinity that drives choices and ratings.
 */

/** Scales row `offset` of `v` to unit length (a zero row stays zero). */
export function normalizeRow(v: Float32Array, offset: number, dim: number): void {
  let norm = 0;
  for (let j = 0; j < dim; j++) norm += v[offset + j] * v[offset + j];
  if (norm === 0) return;
  const scale = 1 / Math.sqrt(norm);
  for (let j = 0; j < dim; j++) v[offset + j] *= scale;
}

/** A direction drawn uniformly on the unit sphere into row `offset` of `out`. */
export function randomUnitRow(rng: Rng, out: Float32Array, offset: number, dim: number): void {
  for (let j = 0; j < dim; j++) out[offset + j] = rng.normal();
  normalizeRow(out, offset, dim);
}

/** `count` random unit directions, one row each. */
export function randomDirections(rng: Rng, count: number, dim: number): Float32Array {
  const out = new Float32Array(count * dim);
  for (let g = 0; g < count; g++) randomUnitRow(rng, out, g * dim, dim);
  return out;
}

/**
 * Writes unit(weight · unit(sum of the given rows of `directions`) + (1 - weight) · noise) into
 * row `offset` of `out`, with noise a random unit direction: a point near a mix of known
 * directions (genres, kinds of film). No rows: pure noise.
 */
export function blendedDirection(
  rng: Rng,
  rows: readonly number[],
  directions: Float32Array,
  weight: number,
  out: Float32Array,
  offset: number,
  dim: number,
): void {
  randomUnitRow(rng, out, offset, dim);
  if (rows.length === 0) return;
  const mix = new Float32Array(dim);
  for (const r of rows) for (let j = 0; j < dim; j++) mix[j] += directions[r * dim + j];
  normalizeRow(mix, 0, dim);
  for (let j = 0; j < dim; j++) out[offset + j] = weight * mix[j] + (1 - weight) * out[offset + j];
  normalizeRow(out, offset, dim);
}
