import type { Interactions } from '../interactions.js';
import { csrFromCoo, type Csr } from '../../matrix/csr.js';
import { AliasTable } from '../../sampling/alias.js';
import type { Progress } from '../../util/progress.js';
import { Rng } from '../../util/rng.js';
import type { SynthClusters } from './clusters.js';
import { clusterMass, type SynthItems } from './items.js';
import type { SynthUsers } from './users.js';

export interface ChoiceModel {
  readonly dim: number;
  /** Inverse temperature of taste: weights are exp(tasteStrength × affinity). */
  readonly tasteStrength: number;
  /** Candidates per round within a cluster, among which the item is chosen. */
  readonly candidates: number;
  /** Seconds over which a user's taste moves from its start to its end vector. */
  readonly driftSeconds: number;
}

export interface EventStats {
  /** Candidate items drawn in all (a measure of the work rejections cost). */
  readonly candidatesDrawn: number;
  /** Draws that fell back to an exact scan of one cluster (users who saw most of it). */
  readonly clusterScans: number;
  /** Events placed before the chosen item's release because the user had seen every released item. */
  readonly beforeRelease: number;
}

/**
 * Share of candidates drawn uniformly from the cluster rather than by popularity: a defensive
 * mixture, so users who have seen a cluster's popular head still meet its unseen items.
 */
const UNIFORM_SHARE = 0.05;
/** Rounds of candidates in one cluster before an exact scan of it (a round costs far less). */
const MAX_ROUNDS = 8;
/** Cluster weights follow the drifting taste in steps of this share of the full drift. */
const DRIFT_STEP = 0.05;

/**
 * One event's item choice, in two stages. A cluster is drawn with probability ∝ its total
 * popularity × exp(tasteStrength × taste·centroid) among clusters the user has not exhausted;
 * then `candidates` items of the cluster are drawn by popularity (with a uniform share) and one
 * is picked ∝ exp(tasteStrength × taste·item) × target/proposal (sampling importance
 * resampling). Items the user has rated or that are not yet released are never candidates.
 * When rounds find none (a user who saw most of the cluster), an exact scan of the cluster
 * draws from the same weights; a cluster with nothing available is set aside until its next
 * release (or for good, when the user saw all of it).
 */
class ChoiceSampler {
  private readonly members: Csr;
  private readonly proposals: (AliasTable | null)[] = [];
  /** popularity share within the cluster over the mixture's probability of the item. */
  private readonly importance: Float64Array;
  private readonly mass: Float64Array;
  private readonly seenBy: Int32Array;
  private readonly seenInCluster: Int32Array;
  /** Time until which a cluster has nothing the user can rate (0: not set aside; times are > 0 from 1970 on). */
  private readonly blockedUntil: Float64Array;
  private nextUnblock = Infinity;
  private readonly clusterCum: Float64Array;
  private clusterTotal = 0;
  private clustersStale = true;
  private readonly candidateItem: Int32Array;
  private readonly candidateCumWeight: Float64Array;
  private readonly candidateAffinity: Float64Array;
  /** Cumulative weights over one cluster's members, for the exact scan. */
  private readonly scanCumWeight: Float64Array;
  readonly taste: Float64Array;
  /** Affinity of the last chosen item. */
  affinity = 0;
  candidatesDrawn = 0;
  clusterScans = 0;
  beforeRelease = 0;

  constructor(
    private readonly items: SynthItems,
    private readonly clusters: SynthClusters,
    private readonly model: ChoiceModel,
  ) {
    const m = items.count;
    this.members = csrFromCoo(
      clusters.count,
      m,
      items.cluster,
      Int32Array.from({ length: m }, (_, i) => i),
      null,
    );
    this.mass = clusterMass(items, clusters.count);
    this.importance = new Float64Array(m);
    for (let c = 0; c < clusters.count; c++) {
      const start = this.members.indptr[c];
      const size = this.members.indptr[c + 1] - start;
      const members = this.members.indices.subarray(start, start + size);
      const popularity = Float64Array.from(members, (i) => items.popularity[i]);
      this.proposals.push(size > 0 ? new AliasTable(popularity) : null);
      for (const i of members) {
        const p = items.popularity[i] / this.mass[c];
        this.importance[i] = p / ((1 - UNIFORM_SHARE) * p + UNIFORM_SHARE / size);
      }
    }
    this.seenBy = new Int32Array(m).fill(-1);
    this.seenInCluster = new Int32Array(clusters.count);
    this.blockedUntil = new Float64Array(clusters.count);
    this.clusterCum = new Float64Array(clusters.count);
    this.candidateItem = new Int32Array(model.candidates);
    this.candidateCumWeight = new Float64Array(model.candidates);
    this.candidateAffinity = new Float64Array(model.candidates);
    let largest = 0;
    for (let c = 0; c < clusters.count; c++) largest = Math.max(largest, this.members.indptr[c + 1] - this.members.indptr[c]);
    this.scanCumWeight = new Float64Array(largest);
    this.taste = new Float64Array(model.dim);
  }

  beginUser(): void {
    this.seenInCluster.fill(0);
    this.blockedUntil.fill(0);
    this.nextUnblock = Infinity;
    this.clustersStale = true;
  }

  /** Sets the taste (interpolated between start and end) and, past a drift step, the cluster weights. */
  setTaste(users: SynthUsers, u: number, drift: number, driftAtWeights: number): boolean {
    const dim = this.model.dim;
    const a = u * dim;
    for (let j = 0; j < dim; j++) this.taste[j] = users.tasteStart[a + j] + drift * (users.tasteEnd[a + j] - users.tasteStart[a + j]);
    if (this.clustersStale || drift - driftAtWeights >= DRIFT_STEP) {
      this.refreshClusterWeights();
      return true;
    }
    return false;
  }

  private refreshClusterWeights(): void {
    const beta = this.model.tasteStrength;
    const dim = this.model.dim;
    let total = 0;
    for (let c = 0; c < this.clusters.count; c++) {
      const size = this.members.indptr[c + 1] - this.members.indptr[c];
      if (this.seenInCluster[c] < size && this.blockedUntil[c] === 0) {
        total += this.mass[c] * Math.exp(beta * dot(this.taste, this.clusters.centroids, c * dim, dim));
      }
      this.clusterCum[c] = total;
    }
    this.clusterTotal = total;
    this.clustersStale = false;
  }

  /** An item for user u at time t (never one they rated); sets `affinity`. */
  choose(rng: Rng, u: number, t: number): number {
    if (t >= this.nextUnblock) this.unblock(t);
    let chosen = -1;
    while (chosen < 0 && this.clusterTotal > 0) {
      const c = this.pickCluster(rng);
      chosen = this.drawInCluster(rng, c, u, t);
      if (chosen >= 0) break;
      this.clusterScans++;
      chosen = this.scanCluster(rng, c, u, t);
      if (chosen < 0) this.refreshClusterWeights();
    }
    if (chosen < 0) {
      // The user has seen every released item: rate an unreleased one (early) rather than fail.
      this.beforeRelease++;
      this.unblock(Infinity);
      const c = this.pickCluster(rng);
      chosen = this.scanCluster(rng, c, u, Infinity);
    }
    this.seenBy[chosen] = u;
    const c = this.items.cluster[chosen];
    this.seenInCluster[c]++;
    if (this.seenInCluster[c] === this.members.indptr[c + 1] - this.members.indptr[c]) this.clustersStale = true;
    if (this.clustersStale) this.refreshClusterWeights();
    return chosen;
  }

  private pickCluster(rng: Rng): number {
    const target = rng.next() * this.clusterTotal;
    // First cluster whose cumulative weight exceeds the target.
    let lo = 0;
    let hi = this.clusters.count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.clusterCum[mid] > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private drawInCluster(rng: Rng, c: number, u: number, t: number): number {
    const proposal = this.proposals[c];
    if (proposal === null) return -1;
    const { candidates, tasteStrength: beta, dim } = this.model;
    const start = this.members.indptr[c];
    const size = this.members.indptr[c + 1] - start;
    // Locals, not property loads, in the hottest loop of the generator.
    const vectors = this.items.vectors;
    const release = this.items.releaseTime;
    const { indices } = this.members;
    const { seenBy, taste, importance, candidateItem, candidateCumWeight, candidateAffinity } = this;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      let m = 0;
      let total = 0;
      for (let k = 0; k < candidates; k++) {
        const uColumn = rng.next();
        const uSide = rng.next();
        const local =
          uSide < UNIFORM_SHARE ? Math.floor(uColumn * size) : proposal.draw(uColumn, (uSide - UNIFORM_SHARE) / (1 - UNIFORM_SHARE));
        const item = indices[start + local];
        if (seenBy[item] === u || release[item] > t) continue;
        const s = dot(taste, vectors, item * dim, dim);
        total += importance[item] * Math.exp(beta * s);
        candidateItem[m] = item;
        candidateCumWeight[m] = total;
        candidateAffinity[m] = s;
        m++;
      }
      this.candidatesDrawn += candidates;
      if (m === 0) continue;
      const target = rng.next() * total;
      let pick = 0;
      while (pick < m - 1 && candidateCumWeight[pick] <= target) pick++;
      this.affinity = candidateAffinity[pick];
      return candidateItem[pick];
    }
    return -1;
  }

  /**
   * Popularity × exp(beta × affinity) over the cluster's unseen items released by `t`. With none,
   * sets the cluster aside until its next unseen release and returns -1.
   */
  private scanCluster(rng: Rng, c: number, u: number, t: number): number {
    const { tasteStrength: beta, dim } = this.model;
    const { popularity, releaseTime, vectors } = this.items;
    const start = this.members.indptr[c];
    const end = this.members.indptr[c + 1];
    const cum = this.scanCumWeight;
    let total = 0;
    let nextRelease = Infinity;
    for (let p = start; p < end; p++) {
      const i = this.members.indices[p];
      if (this.seenBy[i] !== u) {
        if (releaseTime[i] > t) nextRelease = Math.min(nextRelease, releaseTime[i]);
        else total += popularity[i] * Math.exp(beta * dot(this.taste, vectors, i * dim, dim));
      }
      cum[p - start] = total;
    }
    if (total === 0) {
      this.blockedUntil[c] = nextRelease;
      this.nextUnblock = Math.min(this.nextUnblock, nextRelease);
      return -1;
    }
    // First member whose cumulative weight exceeds the target (unavailable ones add nothing).
    const target = rng.next() * total;
    let p = 0;
    while (cum[p] <= target) p++;
    const item = this.members.indices[start + p];
    this.affinity = dot(this.taste, vectors, item * dim, dim);
    return item;
  }

  /** Clusters set aside until `t` or earlier are back. */
  private unblock(t: number): void {
    let next = Infinity;
    for (let c = 0; c < this.clusters.count; c++) {
      if (this.blockedUntil[c] === 0) continue;
      if (this.blockedUntil[c] <= t) this.blockedUntil[c] = 0;
      else next = Math.min(next, this.blockedUntil[c]);
    }
    this.nextUnblock = next;
    this.clustersStale = true;
    this.refreshClusterWeights();
  }
}

function dot(taste: Float64Array, vectors: Float32Array, offset: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) s += taste[j] * vectors[offset + j];
  return s;
}

/**
 * Writes every user's events, user by user in time order, into `out` (ids are 1-based: user u is
 * id u + 1, item i is id i + 1) and the planted affinity (taste at that time · item vector) of
 * each event into `affinity`. Each user draws from their own random stream.
 */
export function generateEvents(
  items: SynthItems,
  clusters: SynthClusters,
  users: SynthUsers,
  model: ChoiceModel,
  out: Interactions,
  affinity: Float32Array,
  progress: Progress,
): EventStats {
  const sampler = new ChoiceSampler(items, clusters, model);
  let maxActivity = 0;
  for (let u = 0; u < users.count; u++) maxActivity = Math.max(maxActivity, users.activity[u]);
  const spacing = new Float64Array(maxActivity + 1);
  let row = 0;
  for (let u = 0; u < users.count; u++) {
    const n = users.activity[u];
    if (n === 0) continue;
    const rng = new Rng(users.streamSeed[u]);
    const start = users.start[u];
    const span = users.span[u];
    // Sorted uniform times in [start, start + span] from normalised exponential spacings: O(n).
    let cumulative = 0;
    for (let k = 0; k <= n; k++) {
      cumulative -= Math.log(1 - rng.next());
      spacing[k] = cumulative;
    }
    sampler.beginUser();
    let driftAtWeights = 0;
    for (let k = 0; k < n; k++) {
      const t = Math.floor(start + (span * spacing[k]) / cumulative);
      const drift = Math.min(1, (t - start) / model.driftSeconds);
      if (sampler.setTaste(users, u, drift, driftAtWeights)) driftAtWeights = drift;
      const item = sampler.choose(rng, u, t);
      out.userId[row] = u + 1;
      out.itemId[row] = item + 1;
      out.timestamp[row] = t;
      affinity[row] = sampler.affinity;
      row++;
    }
    progress.tick(n);
  }
  return { candidatesDrawn: sampler.candidatesDrawn, clusterScans: sampler.clusterScans, beforeRelease: sampler.beforeRelease };
}
