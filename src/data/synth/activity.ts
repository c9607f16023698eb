/**
 * Splits exactly `total` interactions among users in proportion to their activity weights:
 * every user gets at least `floorEach`, nobody more than `cap`. What a capped user cannot take
 * goes to the others in proportion to their weights (water-filling); the real-valued shares are
 * then rounded by largest remainder, so the counts sum to `total` exactly.
 */
export function allocateActivity(weights: Float64Array, total: number, floorEach: number, cap: number): Int32Array {
  const n = weights.length;
  if (floorEach > cap || n * floorEach > total || n * cap < total) {
    throw new Error(`allocateActivity: cannot give ${n} users ${floorEach}..${cap} interactions each, ${total} in all`);
  }
  const capped = new Uint8Array(n);
  const share = new Float64Array(n);
  let nCapped = 0;
  for (;;) {
    let weightLeft = 0;
    for (let u = 0; u < n; u++) if (!capped[u]) weightLeft += weights[u];
    const extra = total - nCapped * cap - (n - nCapped) * floorEach;
    let newlyCapped = 0;
    for (let u = 0; u < n; u++) {
      if (capped[u]) continue;
      share[u] = floorEach + (weightLeft > 0 ? (extra * weights[u]) / weightLeft : extra / (n - nCapped));
      if (share[u] > cap) {
        capped[u] = 1;
        newlyCapped++;
      }
    }
    nCapped += newlyCapped;
    if (newlyCapped === 0) break;
  }
  const counts = new Int32Array(n);
  let assigned = 0;
  for (let u = 0; u < n; u++) {
    counts[u] = capped[u] ? cap : Math.floor(share[u]);
    assigned += counts[u];
  }
  // Largest remainders first; ties by user index, so the result does not depend on sort stability.
  const order = Int32Array.from({ length: n }, (_, u) => u).sort((a, b) => {
    const d = share[b] - Math.floor(share[b]) - (share[a] - Math.floor(share[a]));
    return d !== 0 ? d : a - b;
  });
  for (let k = 0; assigned < total; k = (k + 1) % n) {
    const u = order[k];
    if (capped[u] || counts[u] >= cap) continue;
    counts[u]++;
    assigned++;
  }
  return counts;
}
