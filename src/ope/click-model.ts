import type { AttributedExposure } from '../events/attribution.js';
import { InputError } from '../util/errors.js';
import type { Progress } from '../util/progress.js';

/**
 * The position-based click model (docs/position-bias.md, docs/ope.md): P(click on key a at
 * position p) = θ_p · γ_a, with θ_p the chance a user examines position p and γ_a the chance they
 * click a once they see it; a key is an item, or a (user, item) pair. Fitted on logged exposures
 * by expectation-maximisation (Chuklin et al. 2015, "Click Models for Web Search", §4.3; Wang et
 * al. 2018) over (key, position) cells of impressions n and clicks c: a click means examined and
 * attractive; a non-click leaves examined with probability θ(1 − γ)/(1 − θγ) and attractive with
 * γ(1 − θ)/(1 − θγ); the M-step sets θ_p and γ_a to their expected shares. θ and γ are determined
 * only up to a common scale (θs, γ/s), so convergence is judged on θ normalised by θ_1, and the
 * estimators use products θ·γ and ratios of θ. This one fit serves `recsys positions`
 * (position-bias.ts, with bootstrap refits) and the DR and PBM off-policy estimates (estimate.ts).
 */

/** What one attraction γ belongs to: an item, or a (user, item) pair. */
export type RelevanceKey = 'item' | 'user-item';

export interface PositionBasedFitOptions {
  /** Positions beyond it are left out. Default: every position logged. */
  readonly maxPosition?: number;
  /** Default 'item'. */
  readonly relevance?: RelevanceKey;
  /** EM stops when no normalised θ_p moves by more than this in an iteration. Default 1e-7. */
  readonly tolerance?: number;
  /** At most this many iterations. Default 10,000. */
  readonly maxIterations?: number;
}

export const EM_DEFAULTS = { relevance: 'item', tolerance: 1e-7, maxIterations: 10_000 } as const;

/** Positions beyond it are not a list anyone scrolls; it keeps a packed (key, position) id an exact integer. */
const MAX_POSITION = 2 ** 20;

/** The logs as (key, position) cells, with per shown item its cell and click so that resampled exposures can be recounted. */
export interface PositionCells {
  readonly relevance: RelevanceKey;
  /** Exposures with at least one item at a position ≤ maxPosition. */
  readonly exposures: number;
  /** 1 + the highest position logged. */
  readonly positions: number;
  /** Key index by key: the raw item id, or `user:item`. */
  readonly keyIds: ReadonlyMap<string | number, number>;
  readonly cellKey: readonly number[];
  /** 0-based. */
  readonly cellPosition: readonly number[];
  /** Impressions and clicks per cell, every exposure counted once. */
  readonly impressions: Float64Array;
  readonly clicks: Float64Array;
  /** Per position, whether some chain of keys shown at two positions links it to position 1: only those θ_p / θ_1 are identified. */
  readonly identified: readonly boolean[];
  /** Impressions and clicks per cell with exposure e counted multiplicity[e] times. */
  counts(multiplicity: Int32Array): { n: Float64Array; c: Float64Array };
}

export function positionCells(logs: readonly AttributedExposure[], options: PositionBasedFitOptions = {}): PositionCells {
  const relevance = options.relevance ?? EM_DEFAULTS.relevance;
  const maxPosition = options.maxPosition ?? Infinity;
  const keyIds = new Map<string | number, number>();
  const cellIds = new Map<number, number>();
  const cellKey: number[] = [];
  const cellPosition: number[] = [];
  const rowCell: number[] = [];
  const rowClick: number[] = [];
  const exposureStart: number[] = [0];
  let positions = 0;
  for (const { exposure, positive } of logs) {
    exposure.items.forEach((item, j) => {
      if (item.position > maxPosition) return;
      if (!Number.isInteger(item.position) || item.position < 1 || item.position > MAX_POSITION)
        throw new InputError(
          `position-based model: request ${exposure.request_id}: position ${item.position} is not in 1..${MAX_POSITION}`,
        );
      const keyName = relevance === 'item' ? item.item_id : `${exposure.user_id}:${item.item_id}`;
      const key = keyIds.get(keyName) ?? keyIds.size;
      keyIds.set(keyName, key);
      const packed = key * MAX_POSITION + item.position - 1;
      const cell = cellIds.get(packed) ?? cellKey.length;
      if (cell === cellKey.length) {
        cellIds.set(packed, cell);
        cellKey.push(key);
        cellPosition.push(item.position - 1);
      }
      positions = Math.max(positions, item.position);
      rowCell.push(cell);
      rowClick.push(positive[j]);
    });
    if (rowCell.length > exposureStart[exposureStart.length - 1]) exposureStart.push(rowCell.length);
  }
  const exposures = exposureStart.length - 1;
  const counts = (multiplicity: Int32Array | null) => {
    const n = new Float64Array(cellKey.length);
    const c = new Float64Array(cellKey.length);
    for (let e = 0; e < exposures; e++) {
      const w = multiplicity ? multiplicity[e] : 1;
      if (w === 0) continue;
      for (let r = exposureStart[e]; r < exposureStart[e + 1]; r++) {
        n[rowCell[r]] += w;
        c[rowCell[r]] += w * rowClick[r];
      }
    }
    return { n, c };
  };
  const all = counts(null);
  return {
    relevance,
    exposures,
    positions,
    keyIds,
    cellKey,
    cellPosition,
    impressions: all.n,
    clicks: all.c,
    identified: linkedToFirst(cellKey, cellPosition, keyIds.size, positions),
    counts,
  };
}

/** θ (raw scale, 0-based positions) and γ (by key index) of one EM run. */
export interface EmState {
  readonly theta: Float64Array;
  readonly gamma: Float64Array;
}

export type EmRun = {
  readonly iterations: number;
  readonly converged: boolean;
  readonly logLikelihood: number;
};

/**
 * The deterministic start: θ = 0.5 everywhere (below 1: θ = 1 is a fixed point of the update), γ
 * at each key's click rate, clipped to [0.01, 0.99].
 */
export function emStart(cells: PositionCells): EmState {
  const theta = new Float64Array(cells.positions).fill(0.5);
  const gamma = new Float64Array(cells.keyIds.size);
  const shown = new Float64Array(cells.keyIds.size);
  for (let x = 0; x < cells.cellKey.length; x++) {
    gamma[cells.cellKey[x]] += cells.clicks[x];
    shown[cells.cellKey[x]] += cells.impressions[x];
  }
  for (let a = 0; a < gamma.length; a++) gamma[a] = Math.min(0.99, Math.max(0.01, gamma[a] / shown[a]));
  return { theta, gamma };
}

/**
 * Runs EM from `state` (updated in place) on cell counts n, c until no θ_p / θ_1 moves by more
 * than the tolerance; a position or key without impressions keeps its value.
 */
export function runEm(
  cells: PositionCells,
  n: Float64Array,
  c: Float64Array,
  state: EmState,
  options: PositionBasedFitOptions = {},
  progress: Progress | null = null,
): EmRun {
  const tolerance = options.tolerance ?? EM_DEFAULTS.tolerance;
  const maxIterations = options.maxIterations ?? EM_DEFAULTS.maxIterations;
  const { theta: th, gamma: g } = state;
  const { cellKey, cellPosition } = cells;
  const thNum = new Float64Array(th.length);
  const thDen = new Float64Array(th.length);
  const gNum = new Float64Array(g.length);
  const gDen = new Float64Array(g.length);
  let iterations = 0;
  let converged = false;
  let logLikelihood = -Infinity;
  while (iterations < maxIterations && !converged) {
    thNum.fill(0);
    thDen.fill(0);
    gNum.fill(0);
    gDen.fill(0);
    logLikelihood = 0;
    for (let x = 0; x < cellKey.length; x++) {
      if (n[x] === 0) continue;
      const p = cellPosition[x];
      const a = cellKey[x];
      const t = th[p];
      const r = g[a];
      const missed = n[x] - c[x];
      const noClick = 1 - t * r;
      thNum[p] += c[x] + (missed * t * (1 - r)) / noClick;
      gNum[a] += c[x] + (missed * r * (1 - t)) / noClick;
      thDen[p] += n[x];
      gDen[a] += n[x];
      logLikelihood += (c[x] > 0 ? c[x] * Math.log(t * r) : 0) + (missed > 0 ? missed * Math.log(noClick) : 0);
    }
    const before = th[0];
    let moved = 0;
    const after = thDen[0] > 0 ? thNum[0] / thDen[0] : before;
    for (let p = 0; p < th.length; p++) {
      const next = thDen[p] > 0 ? thNum[p] / thDen[p] : th[p];
      moved = Math.max(moved, Math.abs(next / after - th[p] / before));
      th[p] = next;
    }
    for (let a = 0; a < g.length; a++) if (gDen[a] > 0) g[a] = gNum[a] / gDen[a];
    iterations++;
    converged = moved < tolerance;
    progress?.tick();
  }
  return { iterations, converged, logLikelihood };
}

/** The fitted model by raw item id, as the off-policy estimators use it. */
export interface PositionBasedModel extends EmRun {
  /** θ_p at index p − 1, for positions 1..K; 0 at a position no log showed. */
  readonly examination: Float64Array;
  /** γ_a by raw item id, for the items the logs showed. */
  readonly attraction: ReadonlyMap<number, number>;
  /** γ for an item the logs never showed: the attraction averaged over all shown slots. */
  readonly meanAttraction: number;
  /** Per position 1..K, whether θ_p / θ_1 is identified (PositionCells.identified); the estimators use θ either way. */
  readonly identified: readonly boolean[];
}

export function attractionOf(model: PositionBasedModel, item: number): number {
  return model.attraction.get(item) ?? model.meanAttraction;
}

/** Fits θ for positions 1..k (slots beyond k are left out) and γ for every item shown there. Never throws on unidentified θ: see `identified`. */
export function fitPositionBasedModel(
  logs: readonly AttributedExposure[],
  k: number,
  options: Omit<PositionBasedFitOptions, 'maxPosition' | 'relevance'> = {},
): PositionBasedModel {
  const cells = positionCells(logs, { maxPosition: k, relevance: 'item' });
  const state = emStart(cells);
  const run = runEm(cells, cells.impressions, cells.clicks, state, options);
  const examination = new Float64Array(k);
  const observed = new Float64Array(k);
  for (let x = 0; x < cells.cellKey.length; x++) observed[cells.cellPosition[x]] += cells.impressions[x];
  for (let p = 0; p < cells.positions; p++) examination[p] = observed[p] > 0 ? state.theta[p] : 0;
  let weighted = 0;
  let slots = 0;
  for (let x = 0; x < cells.cellKey.length; x++) {
    weighted += cells.impressions[x] * state.gamma[cells.cellKey[x]];
    slots += cells.impressions[x];
  }
  return {
    ...run,
    examination,
    attraction: new Map([...cells.keyIds].map(([id, a]) => [id as number, state.gamma[a]])),
    meanAttraction: slots > 0 ? weighted / slots : 0,
    identified: Array.from({ length: k }, (_, p) => cells.identified[p] ?? false),
  };
}

/** Per position, whether some chain of keys shown at two positions links it to position 1 (union-find over positions). */
function linkedToFirst(cellKey: readonly number[], cellPosition: readonly number[], nKeys: number, nPositions: number): boolean[] {
  const parent = Int32Array.from({ length: nPositions }, (_, p) => p);
  const root = (p: number): number => {
    while (parent[p] !== p) p = parent[p] = parent[parent[p]];
    return p;
  };
  const firstPosition = new Int32Array(nKeys).fill(-1);
  for (let x = 0; x < cellKey.length; x++) {
    const a = cellKey[x];
    if (firstPosition[a] < 0) firstPosition[a] = cellPosition[x];
    else parent[root(cellPosition[x])] = root(firstPosition[a]);
  }
  return Array.from({ length: nPositions }, (_, p) => root(p) === root(0));
}
