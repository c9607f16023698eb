import { InputError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/fs.js';
import type { FeatureMatrix, GbdtEngine, GbdtModel } from './model.js';

/**
 * A tree ensemble flattened into typed arrays, the form both engines' models are evaluated in.
 * Nodes of all trees share one numbering; a child reference c ≥ 0 is a node, c < 0 is the leaf
 * ~c. Each engine's decision rule is mapped onto "v <= threshold goes left, NaN goes to
 * `missing`" (XGBoost's "v < t" on float32 values becomes "v <= the float32 just below t"), so
 * one loop evaluates both; the rarer rules (zero-as-missing, categorical) are node kinds.
 */
export const NODE_NUMERIC = 0;
/** LightGBM missing type Zero: |v| <= 1e-35 (and NaN) take the default child, in `missing`. */
export const NODE_ZERO_MISSING = 1;
/** LightGBM categorical split: the category's bit set → left; NaN, negative, unknown → right. */
export const NODE_CATEGORICAL = 2;

/** LightGBM's kZeroThreshold. */
const ZERO_THRESHOLD = 1e-35;

export interface Forest {
  /** Per tree: its root node, or ~leaf for a tree that is a single leaf. */
  readonly roots: Int32Array;
  readonly feature: Int32Array;
  readonly threshold: Float64Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  /** The child a NaN feature value goes to. */
  readonly missing: Int32Array;
  readonly kind: Uint8Array;
  /** Categorical nodes: the node's bit set is catBits[catStart[n] .. catStart[n] + catWords[n]). */
  readonly catStart: Int32Array;
  readonly catWords: Int32Array;
  readonly catBits: Uint32Array;
  readonly leafValue: Float64Array;
  /** Score before the first tree (XGBoost's base margin; 0 for LightGBM). */
  readonly initialScore: number;
  /** XGBoost rounds features to float32 and sums leaf values in float32. */
  readonly float32: boolean;
  /** The sum of leaf values is divided by this (LightGBM `average_output`: the iteration count). */
  readonly divisor: number;
}

/** One tree in local numbering: nodes 0..k-1, leaves ~0..~(m-1). */
export interface TreeArrays {
  readonly feature: ArrayLike<number>;
  readonly threshold: ArrayLike<number>;
  readonly left: ArrayLike<number>;
  readonly right: ArrayLike<number>;
  readonly missing: ArrayLike<number>;
  readonly kind: ArrayLike<number>;
  /** Bit set of each categorical node (null for other nodes). */
  readonly categories: ReadonlyArray<Uint32Array | null> | null;
  readonly leafValue: ArrayLike<number>;
}

export class ForestBuilder {
  private readonly trees: TreeArrays[] = [];

  add(tree: TreeArrays): void {
    this.trees.push(tree);
  }

  build(opts: { initialScore: number; float32: boolean; divisor: number }): Forest {
    let nNodes = 0;
    let nLeaves = 0;
    let nWords = 0;
    for (const t of this.trees) {
      nNodes += t.feature.length;
      nLeaves += t.leafValue.length;
      for (const c of t.categories ?? []) nWords += c?.length ?? 0;
    }
    const f = {
      roots: new Int32Array(this.trees.length),
      feature: new Int32Array(nNodes),
      threshold: new Float64Array(nNodes),
      left: new Int32Array(nNodes),
      right: new Int32Array(nNodes),
      missing: new Int32Array(nNodes),
      kind: new Uint8Array(nNodes),
      catStart: new Int32Array(nNodes),
      catWords: new Int32Array(nNodes),
      catBits: new Uint32Array(nWords),
      leafValue: new Float64Array(nLeaves),
      ...opts,
    };
    let node0 = 0;
    let leaf0 = 0;
    let word0 = 0;
    const globalChild = (c: number): number => (c >= 0 ? c + node0 : ~(~c + leaf0));
    this.trees.forEach((t, ti) => {
      const k = t.feature.length;
      f.roots[ti] = k > 0 ? node0 : ~leaf0;
      for (let i = 0; i < k; i++) {
        const g = node0 + i;
        f.feature[g] = t.feature[i];
        f.threshold[g] = t.threshold[i];
        f.left[g] = globalChild(t.left[i]);
        f.right[g] = globalChild(t.right[i]);
        f.missing[g] = globalChild(t.missing[i]);
        f.kind[g] = t.kind[i];
        const bits = t.categories?.[i];
        if (bits) {
          f.catStart[g] = word0;
          f.catWords[g] = bits.length;
          f.catBits.set(bits, word0);
          word0 += bits.length;
        }
      }
      for (let i = 0; i < t.leafValue.length; i++) f.leafValue[leaf0 + i] = t.leafValue[i];
      node0 += k;
      leaf0 += t.leafValue.length;
    });
    return f;
  }
}

function rareDecision(f: Forest, n: number, v: number): number {
  if (f.kind[n] === NODE_ZERO_MISSING) {
    if (Number.isNaN(v) || (v >= -ZERO_THRESHOLD && v <= ZERO_THRESHOLD)) return f.missing[n];
    return v <= f.threshold[n] ? f.left[n] : f.right[n];
  }
  // Categorical: C++ truncates toward zero (so -0.5 is category 0); NaN, negative and
  // out-of-int32 values go right.
  if (!(v > -1 && v < 2147483648)) return f.right[n];
  const cat = Math.trunc(v);
  const word = cat >>> 5;
  if (word >= f.catWords[n]) return f.right[n];
  return (f.catBits[f.catStart[n] + word] >>> (cat & 31)) & 1 ? f.left[n] : f.right[n];
}

/** Raw scores of `nRows` rows of `x` (row-major, `stride` values per row). */
export function predictForest(f: Forest, x: FeatureMatrix, nRows: number, stride: number): Float64Array {
  const { roots, feature, threshold, left, right, missing, kind, leafValue, float32 } = f;
  const nTrees = roots.length;
  const roundFeatures = float32 && !(x instanceof Float32Array);
  const out = new Float64Array(nRows);
  for (let r = 0; r < nRows; r++) {
    const base = r * stride;
    let score = f.initialScore;
    for (let t = 0; t < nTrees; t++) {
      let n = roots[t];
      while (n >= 0) {
        const v = roundFeatures ? Math.fround(x[base + feature[n]]) : x[base + feature[n]];
        if (kind[n] === NODE_NUMERIC) {
          const th = threshold[n];
          n = v <= th ? left[n] : v > th ? right[n] : missing[n];
        } else {
          n = rareDecision(f, n, v);
        }
      }
      score = float32 ? Math.fround(score + leafValue[~n]) : score + leafValue[~n];
    }
    out[r] = score / f.divisor;
  }
  return out;
}

/** A parsed model file: the flattened forest plus the file text it came from. */
export class ForestModel implements GbdtModel {
  constructor(
    readonly engine: GbdtEngine,
    readonly objective: string,
    readonly nFeatures: number,
    readonly forest: Forest,
    readonly text: string,
  ) {}

  get nTrees(): number {
    return this.forest.roots.length;
  }

  predict(features: FeatureMatrix, nRows: number, nFeatures: number): Float64Array {
    if (!Number.isInteger(nRows) || nRows < 0 || features.length !== nRows * nFeatures) {
      throw new InputError(
        `${this.engine} model: features hold ${features.length} values, not ${nRows} rows × ${nFeatures} features`,
      );
    }
    if (nFeatures < this.nFeatures) {
      throw new InputError(`${this.engine} model reads ${this.nFeatures} features; rows have only ${nFeatures}`);
    }
    return predictForest(this.forest, features, nRows, nFeatures);
  }

  save(path: string): void {
    writeFileAtomic(path, this.text);
  }
}
