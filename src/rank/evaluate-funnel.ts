import { countDistinct } from '../data/dataset.js';
import type { Interactions } from '../data/interactions.js';
import { evaluateTargets, seenMatrix, type EvalOptions, type Metrics } from '../eval/evaluate.js';
import { buildTargets, type EvalTargets } from '../eval/protocol.js';
import { formatComparison } from '../eval/report.js';
import type { Csr } from '../matrix/csr.js';
import { allocTopK, type TopK } from '../matrix/topk.js';
import type { Recommender } from '../models/model.js';
import { InputError } from '../util/errors.js';
import { log } from '../util/log.js';
import { Progress } from '../util/progress.js';
import type { FunnelRanker } from './funnel.js';

export interface StageMetrics {
  /** "channel:<name>", "merged", "ranked" or "reranked". */
  readonly stage: string;
  readonly metrics: Metrics;
}

export interface FunnelReport {
  /** Every stage at the requested cut-offs, in funnel order. */
  readonly stages: StageMetrics[];
  /** Candidates per user (N). */
  readonly candidates: number;
  /** recall@N of each channel's candidates and of the merged candidates ("merged"): the ranker's ceiling. */
  readonly candidateRecall: Record<string, number>;
  /** The channel stage with the highest ndcg at the smallest cut-off. */
  readonly bestChannel: string;
  /** Wall time of the funnel's steps over all evaluated users. */
  readonly seconds: { readonly candidates: number; readonly features: number; readonly gbdt: number; readonly rerank: number };
  readonly users: number;
}

/** Rows of `stored` (one per evaluated user) served as a top-k source for `evaluateTargets`. */
function storedSource(stored: TopK, rowOf: Int32Array): (users: Int32Array, k: number) => TopK {
  return (users, k) => {
    const out = allocTopK(users.length, k);
    const width = Math.min(k, stored.k);
    for (let b = 0; b < users.length; b++) {
      const from = rowOf[users[b]] * stored.k;
      out.items.set(stored.items.subarray(from, from + width), b * k);
      out.scores.set(stored.scores.subarray(from, from + width), b * k);
    }
    return out;
  };
}

/**
 * Runs the ranker's funnel once over the evaluated users and measures every stage with the
 * project's one evaluation loop (`evaluateTargets`: same protocol, same formulas): each channel
 * alone, the merged candidates in fused order, the GBDT-ranked list and the re-ranked list;
 * plus candidate recall@N. Holds users × N candidates per channel in memory.
 */
export function funnelStageMetrics(
  ranker: FunnelRanker,
  targets: EvalTargets,
  seen: Csr,
  trainItemCount: number,
  opts: EvalOptions,
): FunnelReport {
  const { funnel, gbdt } = ranker;
  const n = funnel.settings.candidates;
  const maxK = Math.max(...opts.ks);
  const users = targets.users;
  const rowOf = new Int32Array(ranker.users.size).fill(-1);
  users.forEach((u, r) => (rowOf[u] = r));
  const channelLists = funnel.channels.map(() => allocTopK(users.length, n));
  const merged = allocTopK(users.length, n);
  const ranked = allocTopK(users.length, maxK);
  const reranked = allocTopK(users.length, maxK);
  const seconds = { candidates: 0, features: 0, gbdt: 0, rerank: 0 };
  const batch = opts.batchSize ?? 256;
  const progress = new Progress('funnel', users.length, 'users');
  for (let start = 0; start < users.length; start += batch) {
    const part = users.subarray(start, Math.min(users.length, start + batch));
    const out = funnel.run(part, maxK, seen, gbdt);
    out.lists.forEach((l, c) => {
      if (l) channelLists[c].items.set(l.items, start * n);
      if (l) channelLists[c].scores.set(l.scores, start * n);
    });
    for (let b = 0; b < part.length; b++) {
      const lo = out.merged.offsets[b];
      const hi = out.merged.offsets[b + 1];
      merged.items.set(out.merged.items.subarray(lo, hi), (start + b) * n);
      merged.scores.set(out.merged.fused.subarray(lo, hi), (start + b) * n);
    }
    ranked.items.set(out.ranked.items, start * maxK);
    ranked.scores.set(out.ranked.scores, start * maxK);
    reranked.items.set(out.reranked.items, start * maxK);
    reranked.scores.set(out.reranked.scores, start * maxK);
    for (const key of Object.keys(seconds) as Array<keyof typeof seconds>) seconds[key] += out.seconds[key];
    progress.tick(part.length);
  }
  progress.finish(seconds);

  const measure = (stored: TopK, ks: number[], withCatalog: boolean): Metrics =>
    evaluateTargets(storedSource(stored, rowOf), ranker, targets, seen, trainItemCount, {
      ...opts,
      ks,
      catalog: withCatalog ? opts.catalog : null,
      dumpRecs: undefined,
    });
  const stages: StageMetrics[] = funnel.channels.map((c, i) => ({
    stage: `channel:${c.name}`,
    metrics: measure(channelLists[i], opts.ks, true),
  }));
  const key = `ndcg@${Math.min(...opts.ks)}`;
  const best = stages.reduce((a, s) => (s.metrics[key] > a.metrics[key] ? s : a), stages[0]);
  stages.push({ stage: 'merged', metrics: measure(merged, opts.ks, true) });
  stages.push({ stage: 'ranked', metrics: measure(ranked, opts.ks, true) });
  stages.push({ stage: 'reranked', metrics: measure(reranked, opts.ks, true) });
  // Candidate recall needs no list-diversity pass over N items: evaluated without the catalogue.
  const candidateRecall: Record<string, number> = {};
  funnel.channels.forEach((c, i) => (candidateRecall[c.name] = measure(channelLists[i], [n], false)[`recall@${n}`]));
  candidateRecall.merged = measure(merged, [n], false)[`recall@${n}`];
  const report = { stages, candidates: n, candidateRecall, bestChannel: best.stage, seconds, users: users.length };
  log.event('ranker.funnel', { ...report });
  return report;
}

/** The funnel report of a fitted ranker on a split (the protocol of docs/metrics.md). */
export function evaluateFunnel(
  ranker: FunnelRanker & Recommender,
  train: Interactions,
  test: Interactions,
  opts: EvalOptions,
): FunnelReport {
  const seen = seenMatrix(ranker, train);
  const targets = buildTargets(test, ranker.users, ranker.items, seen);
  return funnelStageMetrics(ranker, targets, seen, countDistinct(train.itemId), opts);
}

function isFunnelRanker(model: Recommender): model is Recommender & FunnelRanker {
  return 'funnel' in model && 'gbdt' in model;
}

/** `evaluateFunnel` for a model known only as a Recommender: an input error unless it is a ranker. */
export function stageReport(model: Recommender, train: Interactions, test: Interactions, opts: EvalOptions): FunnelReport {
  if (!isFunnelRanker(model)) throw new InputError(`per-stage metrics need a ranker model; "${model.kind}" has no candidate funnel`);
  return evaluateFunnel(model, train, test, opts);
}

/** A readable report: one row per stage, then candidate recall@N and where scoring time went. */
export function formatFunnelReport(report: FunnelReport, ks: number[]): string {
  const columns = ks.flatMap((k) => ['ndcg', 'recall', 'precision', 'map', 'diversity', 'coverage', 'novelty'].map((m) => `${m}@${k}`));
  const rows = report.stages.map((s) => ({ name: s.stage, metrics: s.metrics }));
  const recall = Object.entries(report.candidateRecall)
    .map(([c, r]) => `${c} ${r.toFixed(4)}`)
    .join(', ');
  const t = report.seconds;
  return [
    formatComparison(rows, columns),
    `best single channel: ${report.bestChannel}`,
    `candidate recall@${report.candidates}: ${recall}`,
    `funnel time for ${report.users} users: candidates ${t.candidates.toFixed(2)} s, features ${t.features.toFixed(2)} s, gbdt ${t.gbdt.toFixed(2)} s, re-rank ${t.rerank.toFixed(2)} s`,
  ].join('\n');
}
