import type { Csr } from '../matrix/csr.js';
import type { TopK } from '../matrix/topk.js';
import { log } from '../util/log.js';
import { retrieve, type Channel } from './channels/channel.js';

/**
 * Candidates of a batch of users with where they came from: user b's rows are
 * offsets[b] .. offsets[b+1]; per row and channel c, the channel's score and 1-based rank
 * (NaN when the channel did not return the item), and the fused score.
 */
export interface CandidateSet {
  readonly channels: readonly string[];
  readonly users: Int32Array;
  readonly offsets: Int32Array;
  readonly items: Int32Array;
  /** Reciprocal-rank fusion score: Σ_c 1 / (rrfK + rank_c); 0 for an item no channel returned. */
  readonly fused: Float32Array;
  /** rows × channels, row-major. */
  readonly channelScores: Float32Array;
  readonly channelRanks: Float32Array;
}

/** Rank constant of reciprocal-rank fusion (Cormack et al. 2009). */
export const DEFAULT_RRF_K = 60;

export interface RetrieveOptions {
  /** A channel whose call takes longer than this is treated as timed out; 0 = no limit. */
  readonly timeoutMs: number;
}

/**
 * Asks every channel for its top n of each user. Channels run one after the other in-process
 * (synchronously, so a slow one cannot be interrupted): one that throws, or returns after its
 * time limit, contributes nothing to this batch and is logged; the others carry on.
 */
export function retrieveAll(
  channels: readonly Channel[],
  users: Int32Array,
  n: number,
  exclude: Csr | null,
  opts: RetrieveOptions,
): Array<TopK | null> {
  return channels.map((channel) => {
    const started = performance.now();
    try {
      const lists = retrieve(channel, users, n, exclude);
      const ms = performance.now() - started;
      if (opts.timeoutMs > 0 && ms > opts.timeoutMs) {
        log.warn(
          `ranker: channel ${channel.name} took ${ms.toFixed(0)} ms (limit ${opts.timeoutMs} ms) for ${users.length} users; its candidates are dropped`,
        );
        log.event('ranker.channel_timeout', { channel: channel.name, ms, limit_ms: opts.timeoutMs, users: users.length });
        return null;
      }
      return lists;
    } catch (err) {
      log.warn(`ranker: channel ${channel.name} failed for ${users.length} users: ${(err as Error).message}; using the other channels`);
      log.event('ranker.channel_failed', { channel: channel.name, error: (err as Error).message, users: users.length });
      return null;
    }
  });
}

/**
 * Fuses the channels' lists by reciprocal rank, removes duplicates (each item once, with every
 * channel's score and rank), keeps the n best by fused score (ties: lower item index) and, when
 * fewer than n remain, fills up from `fallback` (the popularity channel, which always answers).
 */
export function mergeCandidates(
  names: readonly string[],
  lists: ReadonlyArray<TopK | null>,
  users: Int32Array,
  n: number,
  fallback: TopK,
  rrfK = DEFAULT_RRF_K,
): CandidateSet {
  const nChannels = names.length;
  const offsets = new Int32Array(users.length + 1);
  const items = new Int32Array(users.length * n);
  const fused = new Float32Array(users.length * n);
  const channelScores = new Float32Array(users.length * n * nChannels).fill(NaN);
  const channelRanks = new Float32Array(users.length * n * nChannels).fill(NaN);
  // Per user: the distinct items, their fused score and where each channel put them.
  const slotOf = new Map<number, number>();
  let unionItems = new Int32Array(0);
  let unionFused = new Float64Array(0);
  let unionScores = new Float32Array(0);
  let unionRanks = new Float32Array(0);
  for (let b = 0; b < users.length; b++) {
    slotOf.clear();
    let capacity = n;
    for (const l of lists) if (l) capacity += l.k;
    if (unionItems.length < capacity) {
      unionItems = new Int32Array(capacity);
      unionFused = new Float64Array(capacity);
      unionScores = new Float32Array(capacity * nChannels);
      unionRanks = new Float32Array(capacity * nChannels);
    }
    let m = 0;
    const slot = (item: number): number => {
      let s = slotOf.get(item);
      if (s === undefined) {
        s = m++;
        slotOf.set(item, s);
        unionItems[s] = item;
        unionFused[s] = 0;
        unionScores.fill(NaN, s * nChannels, (s + 1) * nChannels);
        unionRanks.fill(NaN, s * nChannels, (s + 1) * nChannels);
      }
      return s;
    };
    lists.forEach((l, c) => {
      if (!l) return;
      for (let j = 0; j < l.k; j++) {
        const item = l.items[b * l.k + j];
        if (item < 0) break;
        const s = slot(item);
        unionFused[s] += 1 / (rrfK + j + 1);
        unionScores[s * nChannels + c] = l.scores[b * l.k + j];
        unionRanks[s * nChannels + c] = j + 1;
      }
    });
    for (let j = 0; j < fallback.k && m < n; j++) {
      const item = fallback.items[b * fallback.k + j];
      if (item < 0) break;
      slot(item);
    }
    const order = Int32Array.from({ length: m }, (_, s) => s).sort(
      (x, y) => unionFused[y] - unionFused[x] || unionItems[x] - unionItems[y],
    );
    const kept = Math.min(n, m);
    const base = offsets[b];
    for (let j = 0; j < kept; j++) {
      const s = order[j];
      items[base + j] = unionItems[s];
      fused[base + j] = unionFused[s];
      channelScores.set(unionScores.subarray(s * nChannels, (s + 1) * nChannels), (base + j) * nChannels);
      channelRanks.set(unionRanks.subarray(s * nChannels, (s + 1) * nChannels), (base + j) * nChannels);
    }
    offsets[b + 1] = base + kept;
  }
  const rows = offsets[users.length];
  return {
    channels: names,
    users,
    offsets,
    items: items.slice(0, rows),
    fused: fused.slice(0, rows),
    channelScores: channelScores.slice(0, rows * nChannels),
    channelRanks: channelRanks.slice(0, rows * nChannels),
  };
}

/**
 * The set with extra items appended to each user's rows (training examples that no channel
 * proposed: label-window positives, sampled negatives), skipping items already present. Extra
 * rows have no channel score or rank and a fused score of 0.
 */
export function withExtraItems(set: CandidateSet, extras: ReadonlyArray<ArrayLike<number>>): CandidateSet {
  const nChannels = set.channels.length;
  const rows: number[] = [];
  const offsets = new Int32Array(set.users.length + 1);
  const present = new Set<number>();
  for (let b = 0; b < set.users.length; b++) {
    present.clear();
    for (let r = set.offsets[b]; r < set.offsets[b + 1]; r++) {
      rows.push(r);
      present.add(set.items[r]);
    }
    for (let e = 0; e < extras[b].length; e++) {
      const item = extras[b][e];
      if (present.has(item)) continue;
      present.add(item);
      rows.push(~item);
    }
    offsets[b + 1] = rows.length;
  }
  const n = rows.length;
  const out = {
    channels: set.channels,
    users: set.users,
    offsets,
    items: new Int32Array(n),
    fused: new Float32Array(n),
    channelScores: new Float32Array(n * nChannels).fill(NaN),
    channelRanks: new Float32Array(n * nChannels).fill(NaN),
  };
  rows.forEach((r, i) => {
    if (r < 0) {
      out.items[i] = ~r;
      return;
    }
    out.items[i] = set.items[r];
    out.fused[i] = set.fused[r];
    out.channelScores.set(set.channelScores.subarray(r * nChannels, (r + 1) * nChannels), i * nChannels);
    out.channelRanks.set(set.channelRanks.subarray(r * nChannels, (r + 1) * nChannels), i * nChannels);
  });
  return out;
}
