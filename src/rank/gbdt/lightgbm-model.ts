import { InputError } from '../../util/errors.js';
import { ForestBuilder, ForestModel, NODE_CATEGORICAL, NODE_NUMERIC, NODE_ZERO_MISSING, type TreeArrays } from './forest.js';

/**
 * LightGBM's text model format (what `output_model` writes): a header of key=value lines, then
 * one "Tree=i" block per tree, then "end of trees" and sections this parser does not need.
 * Leaf values already include the learning rate. A node's decision_type packs: bit 0
 * categorical, bit 1 default-left, bits 2-3 missing type (0 None: NaN is read as 0; 1 Zero:
 * zero and NaN take the default child; 2 NaN: NaN takes the default child). A categorical
 * node's threshold indexes cat_boundaries, which delimits its 32-bit words in cat_threshold.
 */

const CATEGORICAL_MASK = 1;
const DEFAULT_LEFT_MASK = 2;
const MISSING_ZERO = 1;
const MISSING_NAN = 2;

interface Field {
  readonly value: string;
  readonly line: number;
}

class Block {
  constructor(
    readonly source: string,
    readonly name: string,
    readonly fields: Map<string, Field>,
  ) {}

  private fail(line: number, msg: string): never {
    throw new InputError(`${this.source}: line ${line}: ${this.name}: ${msg}`);
  }

  has(key: string): boolean {
    return this.fields.has(key);
  }

  string(key: string): string {
    const f = this.fields.get(key);
    if (!f) throw new InputError(`${this.source}: ${this.name}: missing field "${key}"`);
    return f.value;
  }

  int(key: string): number {
    const v = Number(this.string(key));
    if (!Number.isInteger(v)) this.fail(this.fields.get(key)!.line, `"${key}" is not an integer`);
    return v;
  }

  numbers(key: string, length: number, integer = false): number[] {
    const f = this.fields.get(key);
    if (!f) throw new InputError(`${this.source}: ${this.name}: missing field "${key}"`);
    const parts = f.value.trim() === '' ? [] : f.value.trim().split(/\s+/);
    if (length >= 0 && parts.length !== length) {
      this.fail(f.line, `"${key}" has ${parts.length} values, expected ${length}`);
    }
    return parts.map((p, i) => {
      const v = parseNumber(p);
      if (Number.isNaN(v) || (integer && !Number.isInteger(v))) {
        this.fail(f.line, `"${key}" value ${i} ("${p}") is not ${integer ? 'an integer' : 'a number'}`);
      }
      return v;
    });
  }
}

function parseNumber(token: string): number {
  const t = token.toLowerCase();
  if (t === 'inf' || t === '+inf') return Infinity;
  if (t === '-inf') return -Infinity;
  return token === '' ? NaN : Number(token);
}

/** Splits the text into the header block and the tree blocks. */
function readBlocks(text: string, source: string): { header: Block; trees: Block[]; averageOutput: boolean } {
  const lines = text.split('\n');
  if (lines[0].trim() !== 'tree') throw new InputError(`${source}: line 1: not a LightGBM text model (expected "tree")`);
  let current = new Map<string, Field>();
  const header = new Block(source, 'header', current);
  const trees: Block[] = [];
  let averageOutput = false;
  let ended = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === 'end of trees') {
      ended = true;
      break;
    }
    if (line === '') continue;
    if (line === 'average_output') {
      averageOutput = true;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new InputError(`${source}: line ${i + 1}: expected key=value, got "${line.slice(0, 60)}"`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'Tree') {
      if (Number(value) !== trees.length) throw new InputError(`${source}: line ${i + 1}: expected Tree=${trees.length}`);
      current = new Map();
      trees.push(new Block(source, `Tree=${value}`, current));
      continue;
    }
    current.set(key, { value, line: i + 1 });
  }
  if (!ended) throw new InputError(`${source}: truncated LightGBM model (no "end of trees" line)`);
  return { header, trees, averageOutput };
}

export function parseLightgbmModel(text: string, source: string): ForestModel {
  const { header, trees, averageOutput } = readBlocks(text, source);
  const nFeatures = header.int('max_feature_idx') + 1;
  const perIteration = header.has('num_tree_per_iteration') ? header.int('num_tree_per_iteration') : 1;
  if (perIteration !== 1) {
    throw new InputError(`${source}: ${perIteration} trees per iteration (multiclass): only single-output models are supported`);
  }
  const builder = new ForestBuilder();
  for (const tree of trees) builder.add(readTree(tree, nFeatures));
  const forest = builder.build({ initialScore: 0, float32: false, divisor: averageOutput ? Math.max(trees.length, 1) : 1 });
  // Models trained with a custom objective have no objective line.
  const objective = header.has('objective') ? header.string('objective') : 'custom';
  return new ForestModel('lightgbm', objective, nFeatures, forest, text);
}

function readTree(tree: Block, nFeatures: number): TreeArrays {
  const nLeaves = tree.int('num_leaves');
  if (tree.has('is_linear') && tree.int('is_linear') !== 0) {
    throw new InputError(`${tree.source}: ${tree.name}: linear trees (linear_tree=true) are not supported`);
  }
  const leafValue = tree.numbers('leaf_value', nLeaves);
  const k = nLeaves - 1;
  if (k === 0) {
    return { feature: [], threshold: [], left: [], right: [], missing: [], kind: [], categories: null, leafValue };
  }
  const feature = tree.numbers('split_feature', k, true);
  const threshold = tree.numbers('threshold', k);
  const decisionType = tree.numbers('decision_type', k, true);
  const left = tree.numbers('left_child', k, true);
  const right = tree.numbers('right_child', k, true);
  for (let i = 0; i < k; i++) {
    if (feature[i] < 0 || feature[i] >= nFeatures)
      throw new InputError(`${tree.source}: ${tree.name}: split_feature ${feature[i]} out of range`);
    for (const c of [left[i], right[i]]) {
      if (c >= k || ~c >= nLeaves || c === i) throw new InputError(`${tree.source}: ${tree.name}: child ${c} of node ${i} out of range`);
    }
  }
  const nCat = tree.has('num_cat') ? tree.int('num_cat') : 0;
  const catBoundaries = nCat > 0 ? tree.numbers('cat_boundaries', nCat + 1, true) : [];
  const catThreshold = nCat > 0 ? tree.numbers('cat_threshold', catBoundaries[nCat], true) : [];
  const missing = new Int32Array(k);
  const kind = new Uint8Array(k);
  const categories: Array<Uint32Array | null> = new Array<Uint32Array | null>(k).fill(null);
  for (let i = 0; i < k; i++) {
    const dt = decisionType[i];
    const defaultChild = dt & DEFAULT_LEFT_MASK ? left[i] : right[i];
    if (dt & CATEGORICAL_MASK) {
      const c = threshold[i];
      if (!Number.isInteger(c) || c < 0 || c >= nCat)
        throw new InputError(`${tree.source}: ${tree.name}: categorical node ${i} refers to bit set ${c} of ${nCat}`);
      kind[i] = NODE_CATEGORICAL;
      missing[i] = right[i];
      categories[i] = Uint32Array.from(catThreshold.slice(catBoundaries[c], catBoundaries[c + 1]));
      continue;
    }
    const missingType = (dt >> 2) & 3;
    if (missingType === MISSING_ZERO) {
      kind[i] = NODE_ZERO_MISSING;
      missing[i] = defaultChild;
    } else {
      kind[i] = NODE_NUMERIC;
      // Missing type None reads NaN as 0.
      missing[i] = missingType === MISSING_NAN ? defaultChild : 0 <= threshold[i] ? left[i] : right[i];
    }
  }
  return { feature, threshold, left, right, missing, kind, categories, leafValue };
}
