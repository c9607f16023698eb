import { join } from 'node:path';
import { OnnxGraphBuilder } from '../../onnx/graph.js';
import { ONNX_FLOAT, ONNX_INT64 } from '../../onnx/proto.js';
import type { FeatureWidths } from './features.js';
import type { TwoTowerNet } from './net.js';
import { NORM_EPS, type TowerWeights } from './network.js';

export const USER_TOWER_FILE = 'user_tower.onnx';
export const ITEM_TOWER_FILE = 'item_tower.onnx';

/**
 * Writes the two towers as ONNX graphs built from the trained weights (docs/artifacts.md):
 *   user_tower.onnx  user_index int64 [batch], history int64 [batch, history_len] → user_embedding float [batch, dim]
 *   item_tower.onnx  item_index int64 [batch], genres/year/tags float [batch, width] → item_embedding float [batch, dim]
 * Indices are the dense indices of the artifact's user_ids.npy / item_ids.npy; -1 means
 * unknown (a new user, a cold item) or padding. Each embedding table gets a zero row in front
 * and the graph gathers at index + 1, so -1 lands on zeros exactly as in training.
 */
export function exportTowers(net: TwoTowerNet, widths: FeatureWidths, dir: string, version: string): void {
  writeUserTower(net, join(dir, USER_TOWER_FILE), version);
  writeItemTower(net, widths, join(dir, ITEM_TOWER_FILE), version);
}

function writeUserTower(net: TwoTowerNet, path: string, version: string): void {
  const g = new OnnxGraphBuilder('two_tower_user');
  const d = net.dim;
  const user = g.input('user_index', ONNX_INT64, ['batch'], 'dense user index (user_ids.npy), -1 for a user unseen in training');
  const history = g.input('history', ONNX_INT64, ['batch', 'history_len'], 'dense indices of recent items (item_ids.npy), -1 = padding');
  const one = g.int64s('one_i64', [1], []);
  const userRows = lookup(g, 'user_table', net.userTable.data, d, user, one);
  const histRows = lookup(g, 'history_table', net.historyTable.data, d, history, one);
  // Mean over the non-padding entries; zeros when there are none.
  const histSum = g.node('ReduceSum', [histRows, g.int64s('axis_1', [1])], { keepdims: 0 });
  const valid = g.node('Cast', [g.node('GreaterOrEqual', [history, g.int64s('zero_i64', [0], [])])], { to: ONNX_FLOAT });
  const count = g.node('Max', [g.node('ReduceSum', [valid, 'axis_1'], { keepdims: 1 }), g.floats('one_f', Float32Array.of(1), [])]);
  const pooled = g.node('Div', [histSum, count]);
  finishTower(g, g.node('Concat', [userRows, pooled], { axis: 1 }), net.towers.user, 'user', path, version);
}

function writeItemTower(net: TwoTowerNet, widths: FeatureWidths, path: string, version: string): void {
  const g = new OnnxGraphBuilder('two_tower_item');
  const item = g.input(
    'item_index',
    ONNX_INT64,
    ['batch'],
    'dense item index (item_ids.npy), -1 for an item unseen in training (content only)',
  );
  const parts = [lookup(g, 'item_table', net.itemTable.data, net.dim, item, g.int64s('one_i64', [1], []))];
  // A block of width 0 (no catalogue genres or tags) has no input: ONNX tensors of width 0 help nobody.
  if (widths.genres > 0) parts.push(g.input('genres', ONNX_FLOAT, ['batch', widths.genres], 'multi-hot over features.json genres'));
  parts.push(
    g.input('year', ONNX_FLOAT, ['batch', widths.year], 'one-hot release-year bucket (features.json year_edges; last column = unknown)'),
  );
  if (widths.tags > 0) parts.push(g.input('tags', ONNX_FLOAT, ['batch', widths.tags], 'multi-hot over features.json tags'));
  finishTower(g, g.node('Concat', parts, { axis: 1 }), net.towers.item, 'item', path, version);
}

/**
 * Rows of an embedding table at `index`, zeros where it is -1: the table gets a zero row in
 * front and is gathered at index + 1 (`one` is an int64 scalar 1 of the graph).
 */
function lookup(g: OnnxGraphBuilder, name: string, table: Float32Array, dim: number, index: string, one: string): string {
  const padded = new Float32Array(table.length + dim);
  padded.set(table, dim);
  const weights = g.floats(name, padded, [table.length / dim + 1, dim]);
  return g.node('Gather', [weights, g.node('Add', [index, one])], { axis: 0 });
}

/**
 * relu(x·W1 + b1)·W2 + b2, divided by max(L2 norm, ε) (the formula of the training code), as
 * the graph output `<tower>_embedding`; then writes the model.
 */
function finishTower(g: OnnxGraphBuilder, x: string, w: TowerWeights, tower: 'user' | 'item', path: string, version: string): void {
  const s = w.shape;
  const h = g.node('Relu', [
    g.node('Add', [g.node('MatMul', [x, g.floats(`${tower}_w1`, w.w1, [s.input, s.hidden])]), g.floats(`${tower}_b1`, w.b1, [s.hidden])]),
  ]);
  const y = g.node('Add', [
    g.node('MatMul', [h, g.floats(`${tower}_w2`, w.w2, [s.hidden, s.output])]),
    g.floats(`${tower}_b2`, w.b2, [s.output]),
  ]);
  const norm = g.node('Max', [
    g.node('ReduceL2', [y], { axes: [1], keepdims: 1 }),
    g.floats(`${tower}_eps`, Float32Array.of(NORM_EPS), []),
  ]);
  const out = g.node('Div', [y, norm], {}, `${tower}_embedding`);
  g.output(out, ONNX_FLOAT, ['batch', s.output], `L2-normalised ${tower} vector`);
  g.write(path, {
    docString: `recsys two-tower ${tower} tower: score(user, item) = <user_embedding, item_embedding>`,
    producerVersion: version,
    metadata: { 'recsys.model': 'two-tower', 'recsys.tower': tower, 'recsys.dim': String(s.output) },
  });
}
