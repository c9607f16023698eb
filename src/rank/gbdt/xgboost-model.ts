import { z } from 'zod';
import { InputError } from '../../util/errors.js';
import { ForestBuilder, ForestModel, NODE_NUMERIC, type TreeArrays } from './forest.js';

/**
 * XGBoost's JSON model (`model_out=*.json`, or `save_model("x.json")`). Each tree lists its
 * nodes in parallel arrays; a node whose left child is -1 is a leaf whose value is its
 * split_conditions entry. XGBoost reads features as float32, sends a row left when
 * `value < split_condition` (a missing value follows default_left), and adds leaf values to
 * the base margin in float32, tree by tree.
 */

const flag = z.union([z.number(), z.boolean()]).transform((v) => Boolean(v));

const treeSchema = z.object({
  left_children: z.array(z.number().int()),
  right_children: z.array(z.number().int()),
  split_indices: z.array(z.number().int().nonnegative()),
  split_conditions: z.array(z.number()),
  default_left: z.array(flag),
  split_type: z.array(z.number().int()).optional(),
});

const modelSchema = z.object({
  learner: z.object({
    learner_model_param: z.object({ base_score: z.string(), num_feature: z.string(), num_class: z.string().optional() }),
    objective: z.object({ name: z.string() }),
    gradient_booster: z.object({
      name: z.string(),
      model: z.object({ trees: z.array(treeSchema), tree_info: z.array(z.number().int()) }).optional(),
    }),
  }),
});

type XgbTree = z.infer<typeof treeSchema>;

/** Objectives whose raw score is the margin the trees add to: base_score maps to it as below. */
const IDENTITY_OBJECTIVES = new Set(['rank:ndcg', 'rank:pairwise', 'rank:map', 'reg:squarederror', 'reg:linear']);
const LOGISTIC_OBJECTIVES = new Set(['binary:logistic', 'reg:logistic', 'binary:logitraw']);

function baseMargin(objective: string, baseScore: number, source: string): number {
  if (IDENTITY_OBJECTIVES.has(objective)) return baseScore;
  // XGBoost's ProbToMargin for logistic objectives, in float32 as it computes it.
  if (LOGISTIC_OBJECTIVES.has(objective)) return Math.fround(-Math.log(Math.fround(Math.fround(1 / baseScore) - 1)));
  throw new InputError(
    `${source}: objective "${objective}" is not supported for in-process scoring (supported: ${[...IDENTITY_OBJECTIVES, ...LOGISTIC_OBJECTIVES].join(', ')})`,
  );
}

/** The largest float32 below t: for a float32 v, `v < t` is `v <= below(t)`. */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
export function float32Below(t: number): number {
  if (Number.isNaN(t) || t === -Infinity) return t;
  if (t === 0) return -(2 ** -149);
  f32[0] = t;
  u32[0] += t > 0 ? -1 : 1;
  return f32[0];
}

export function parseXgboostModel(text: string, source: string): ForestModel {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = modelSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`${source}: not an XGBoost JSON model: field ${issue.path.join('.')}: ${issue.message}`);
  }
  const { learner } = parsed.data;
  const booster = learner.gradient_booster;
  if (booster.name !== 'gbtree' || !booster.model) {
    throw new InputError(`${source}: booster "${booster.name}" is not supported for in-process scoring (only gbtree)`);
  }
  if (booster.model.tree_info.some((g) => g !== 0)) {
    throw new InputError(`${source}: multi-output model (several output groups): only single-output models are supported`);
  }
  // 1.x writes "5E-1"; 2.x writes "[5E-1]".
  const baseScore = Number(learner.learner_model_param.base_score.replace(/^\[|\]$/g, ''));
  if (!Number.isFinite(baseScore))
    throw new InputError(`${source}: base_score "${learner.learner_model_param.base_score}" is not a number`);
  const nFeatures = Number(learner.learner_model_param.num_feature);
  const objective = learner.objective.name;
  const builder = new ForestBuilder();
  booster.model.trees.forEach((t, i) => builder.add(readTree(t, `${source}: tree ${i}`, nFeatures)));
  const forest = builder.build({
    initialScore: Math.fround(baseMargin(objective, Math.fround(baseScore), source)),
    float32: true,
    divisor: 1,
  });
  return new ForestModel('xgboost', objective, nFeatures, forest, text);
}

/** Renumbers the nodes reachable from the root (pruned nodes stay in XGBoost's arrays). */
function readTree(t: XgbTree, where: string, nFeatures: number): TreeArrays {
  const n = t.left_children.length;
  for (const [name, arr] of Object.entries(t)) {
    if (Array.isArray(arr) && arr.length !== n) throw new InputError(`${where}: ${name} has ${arr.length} entries, not ${n}`);
  }
  if (n === 0) throw new InputError(`${where}: no nodes`);
  const localId = new Int32Array(n);
  const seen = new Uint8Array(n);
  seen[0] = 1;
  let nInternal = 0;
  let nLeaves = 0;
  const order: number[] = [0];
  for (let q = 0; q < order.length; q++) {
    const id = order[q];
    if (t.left_children[id] === -1) {
      localId[id] = ~nLeaves++;
      continue;
    }
    if (t.split_type?.[id]) throw new InputError(`${where}: node ${id} is a categorical split, which is not supported`);
    if (t.split_indices[id] >= nFeatures)
      throw new InputError(`${where}: node ${id} splits on feature ${t.split_indices[id]} ≥ num_feature ${nFeatures}`);
    localId[id] = nInternal++;
    for (const c of [t.left_children[id], t.right_children[id]]) {
      if (c <= 0 || c >= n || seen[c]) throw new InputError(`${where}: node ${id} has invalid child ${c}`);
      seen[c] = 1;
      order.push(c);
    }
  }
  const tree = {
    feature: new Int32Array(nInternal),
    threshold: new Float64Array(nInternal),
    left: new Int32Array(nInternal),
    right: new Int32Array(nInternal),
    missing: new Int32Array(nInternal),
    kind: new Uint8Array(nInternal).fill(NODE_NUMERIC),
    categories: null,
    leafValue: new Float64Array(nLeaves),
  };
  for (const id of order) {
    const k = localId[id];
    if (k < 0) {
      tree.leafValue[~k] = Math.fround(t.split_conditions[id]);
      continue;
    }
    const l = localId[t.left_children[id]];
    const r = localId[t.right_children[id]];
    tree.feature[k] = t.split_indices[id];
    tree.threshold[k] = float32Below(Math.fround(t.split_conditions[id]));
    tree.left[k] = l;
    tree.right[k] = r;
    tree.missing[k] = t.default_left[id] ? l : r;
  }
  return tree;
}
