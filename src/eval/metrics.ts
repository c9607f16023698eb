/**
 * Ranking accuracy of one user's list, binary relevance (formulas in docs/metrics.md).
 * `hits[r]` is 1 when the item at rank r+1 is relevant; `nRelevant` counts all relevant
 * items, including ones the model could never return.
 *   NDCG@K   = DCG@K / IDCG@K, DCG = Σ_{r≤K} rel_r / log2(r+1), IDCG over min(|rel|, K) hits
 *   Recall@K = hits@K / |rel|
 *   Precision@K = hits@K / K
 *   MAP@K (AP@K) = Σ_{k≤K} P@k · rel_k / min(|rel|, K)
 *   MRR@K    = 1 / rank of the first hit within K (0 if none)
 *   HitRate@K = 1 if any hit within K
 */
export interface ListAccuracy {
  ndcg: number;
  recall: number;
  precision: number;
  ap: number;
  rr: number;
  hit: number;
}

const LOG2_DISCOUNT = Array.from({ length: 4097 }, (_, r) => (r === 0 ? 0 : 1 / Math.log2(r + 1)));

/** 1 / log2(rank + 1) for a 1-based rank. */
export function discount(rank: number): number {
  return rank < LOG2_DISCOUNT.length ? LOG2_DISCOUNT[rank] : 1 / Math.log2(rank + 1);
}

export function listAccuracy(hits: ArrayLike<number>, k: number, nRelevant: number): ListAccuracy {
  let dcg = 0;
  let nHits = 0;
  let apSum = 0;
  let rr = 0;
  const n = Math.min(k, hits.length);
  for (let r = 1; r <= n; r++) {
    if (!hits[r - 1]) continue;
    nHits++;
    dcg += discount(r);
    apSum += nHits / r;
    if (rr === 0) rr = 1 / r;
  }
  let idcg = 0;
  const ideal = Math.min(nRelevant, k);
  for (let r = 1; r <= ideal; r++) idcg += discount(r);
  return {
    ndcg: idcg > 0 ? dcg / idcg : 0,
    recall: nRelevant > 0 ? nHits / nRelevant : 0,
    precision: nHits / k,
    ap: ideal > 0 ? apSum / ideal : 0,
    rr,
    hit: nHits > 0 ? 1 : 0,
  };
}
