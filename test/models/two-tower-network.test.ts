import { afterAll, describe, expect, it } from 'vitest';
import { ADAM_BETA1, ADAM_BETA2, ADAM_EPS } from '../../src/models/two-tower/adam.js';
import { TwoTowerNet } from '../../src/models/two-tower/net.js';
import type { TowerWeights } from '../../src/models/two-tower/network.js';
import { sparseContent, TrainingStep, type BatchInputs, type StepSettings } from '../../src/models/two-tower/step.js';
import { Rng } from '../../src/util/rng.js';

/**
 * A whole training step (step.ts on the wasm kernels) on a tiny model against the loss written
 * out in float64 JavaScript: the loss, every tower weight's gradient and the tables' input
 * gradients by central finite differences, the lazy Adam row updates, and the same bits on one
 * and two threads.
 */
const N_USERS = 4;
const N_ITEMS = 6;
const DIM = 5; // not a multiple of 4: the kernels' scalar tails run too
const HIDDEN = 6;
const CONTENT = 3;
const SETTINGS: StepSettings = { batch: 3, negatives: 2, history: 3, temperature: 0.5 };
const B = SETTINGS.batch;
const N = B + SETTINGS.negatives;
const L = SETTINGS.history;
// Items' content rows: 0/1 features plus one fractional value.
const CONTENT_ROWS = Float32Array.from({ length: N_ITEMS * CONTENT }, (_, i) => (i % 4 === 0 ? 1 : i % 7 === 0 ? 0.5 : 0));

function initialNet(): TwoTowerNet {
  const net = TwoTowerNet.init(N_USERS, N_ITEMS, CONTENT, DIM, HIDDEN, new Rng(3));
  const r = new Rng(4);
  // Larger, non-zero weights and biases than the initialisation, so every path carries gradient.
  for (let i = 0; i < net.towers.flat.length; i++) net.towers.flat[i] += 0.3 * r.normal();
  for (const t of [net.userTable, net.itemTable, net.historyTable]) for (let i = 0; i < t.data.length; i++) t.data[i] = 0.5 * r.normal();
  return net;
}

interface Batch {
  readonly users: number[];
  readonly history: number[];
  readonly itemIds: number[];
  readonly itemOf: number[];
  readonly colBias: number[];
}

// Row 0 and 2 share their positive (item 1: an accidental hit each way); negative column 4
// holds row 1's item (another); user 1 is hidden (dropout) and item row 3's id too; row 2 has
// an empty history, row 0 repeats item 2 in its history.
const BATCH: Batch = {
  users: [0, -1, 3],
  history: [2, 2, 5, -1, 0, 4, -1, -1, -1],
  itemIds: [1, 3, 1, -1, 3],
  itemOf: [1, 3, 1, 0, 3],
  colBias: [-0.2, 0.1, -0.2, 0.4, 0.1],
};

function load(into: BatchInputs, batch: Batch): void {
  into.users.set(batch.users);
  into.history.set(batch.history);
  for (let b = 0; b < B; b++) into.historyCount[b] = batch.history.slice(b * L, (b + 1) * L).filter((i) => i >= 0).length;
  into.itemIds.set(batch.itemIds);
  into.itemOf.set(batch.itemOf);
  into.colBias.set(batch.colBias);
}

/** Tower outputs in float64: relu(x·W1 + b1)·W2 + b2, L2-normalised. */
function tower(x: Float64Array, rows: number, w: TowerWeights): Float64Array {
  const { input: I, hidden: H, output: O } = w.shape;
  const out = new Float64Array(rows * O);
  for (let r = 0; r < rows; r++) {
    const h = new Float64Array(H);
    for (let j = 0; j < H; j++) {
      let s = w.b1[j];
      for (let i = 0; i < I; i++) s += x[r * I + i] * w.w1[i * H + j];
      h[j] = Math.max(0, s);
    }
    let norm = 0;
    for (let k = 0; k < O; k++) {
      let s = w.b2[k];
      for (let j = 0; j < H; j++) s += h[j] * w.w2[j * O + k];
      out[r * O + k] = s;
      norm += s * s;
    }
    norm = Math.max(Math.sqrt(norm), 1e-12);
    for (let k = 0; k < O; k++) out[r * O + k] /= norm;
  }
  return out;
}

/** The tower inputs of a batch, by the network's own JavaScript gathering (net.ts). */
function inputs(net: TwoTowerNet, batch: Batch): { xu: Float64Array; xi: Float64Array } {
  const content = new Float32Array(N * CONTENT);
  batch.itemOf.forEach((item, j) => content.set(CONTENT_ROWS.subarray(item * CONTENT, (item + 1) * CONTENT), j * CONTENT));
  return {
    xu: Float64Array.from(net.userInputs(Int32Array.from(batch.users), Int32Array.from(batch.history), L)),
    xi: Float64Array.from(net.itemInputs(Int32Array.from(batch.itemIds), content)),
  };
}

/** −mean log softmax of the positives, float64. */
function referenceLoss(net: TwoTowerNet, xu: Float64Array, xi: Float64Array, batch: Batch): number {
  const u = tower(xu, B, net.towers.user);
  const v = tower(xi, N, net.towers.item);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const z = Array.from({ length: N }, (_, j) => {
      if (j !== b && batch.itemOf[j] === batch.itemOf[b]) return -1e9;
      let s = 0;
      for (let k = 0; k < DIM; k++) s += u[b * DIM + k] * v[j * DIM + k];
      return s / SETTINGS.temperature + batch.colBias[j];
    });
    const max = Math.max(...z);
    loss += max + Math.log(z.reduce((a, x) => a + Math.exp(x - max), 0)) - z[b];
  }
  return loss / B;
}

const steps: TrainingStep[] = [];
function newStep(threads: number): TrainingStep {
  const s = new TrainingStep(initialNet(), sparseContent(CONTENT_ROWS, N_ITEMS, CONTENT), SETTINGS, threads);
  steps.push(s);
  return s;
}
afterAll(() => {
  for (const s of steps) s.close();
});

describe('two-tower training step', () => {
  it('gives the float64 loss, and the gradients of finite differences for weights and inputs', () => {
    const step = newStep(1);
    load(step.inputs, BATCH);
    const net = step.net;
    const { xu, xi } = inputs(net, BATCH);
    const loss = step.run(B, 0); // step size 0: Adam leaves the weights as they are
    expect(loss).toBeCloseTo(referenceLoss(net, xu, xi, BATCH), 5);

    const h = 1e-3;
    const numeric = (arr: Float32Array | Float64Array, i: number): number => {
      const keep = arr[i];
      arr[i] = keep + h;
      const up = referenceLoss(net, xu, xi, BATCH);
      arr[i] = keep - h;
      const down = referenceLoss(net, xu, xi, BATCH);
      arr[i] = keep;
      return (up - down) / (2 * h);
    };
    const grad = step.gradient;
    for (let i = 0; i < grad.length; i++) expect(Math.abs(grad[i] - numeric(net.towers.flat, i))).toBeLessThan(2e-3);
    const { users: dxu, items: dxe } = step.inputGradients(B);
    for (let i = 0; i < dxu.length; i++) expect(Math.abs(dxu[i] - numeric(xu, i))).toBeLessThan(2e-3);
    // The item rows' id part (the first DIM columns; the content is not trained).
    for (let j = 0; j < N; j++) {
      for (let c = 0; c < DIM; c++) expect(Math.abs(dxe[j * DIM + c] - numeric(xi, j * (DIM + CONTENT) + c))).toBeLessThan(2e-3);
    }
    // The checks above are not empty: the gradients are far from 0.
    expect(Math.max(...grad.map(Math.abs))).toBeGreaterThan(0.01);
    expect(Math.max(...dxu.map(Math.abs))).toBeGreaterThan(0.01);
    expect(Math.max(...dxe.map(Math.abs))).toBeGreaterThan(0.01);
  });

  it('updates by lazy Adam exactly the table rows the batch touched, with the summed row gradients', () => {
    const probe = newStep(1);
    load(probe.inputs, BATCH);
    probe.run(B, 0);
    const { users: dxu, items: dxe } = probe.inputGradients(B);
    const before = initialNet();
    const step = newStep(1);
    load(step.inputs, BATCH);
    const lr = 0.01;
    step.run(B, lr);
    // Σ of each row's contributions, float64.
    const expected = (rows: number, add: (g: Float64Array[]) => void): Float64Array[] => {
      const g = Array.from({ length: rows }, () => new Float64Array(DIM).fill(Number.NaN));
      add(g);
      return g;
    };
    const addTo = (g: Float64Array[], row: number, src: Float32Array, at: number, scale: number): void => {
      if (row < 0) return;
      if (Number.isNaN(g[row][0])) g[row].fill(0);
      for (let c = 0; c < DIM; c++) g[row][c] += scale * src[at + c];
    };
    const userGrads = expected(N_USERS, (g) => BATCH.users.forEach((u, b) => addTo(g, u, dxu, b * 2 * DIM, 1)));
    const itemGrads = expected(N_ITEMS, (g) => BATCH.itemIds.forEach((i, j) => addTo(g, i, dxe, j * DIM, 1)));
    const historyGrads = expected(N_ITEMS, (g) => {
      for (let b = 0; b < B; b++) {
        const rows = BATCH.history.slice(b * L, (b + 1) * L).filter((i) => i >= 0);
        for (const r of rows) addTo(g, r, dxu, b * 2 * DIM + DIM, 1 / rows.length);
      }
    });
    const check = (after: Float32Array, start: Float32Array, grads: Float64Array[]): void => {
      grads.forEach((g, row) => {
        for (let c = 0; c < DIM; c++) {
          const p = start[row * DIM + c];
          if (Number.isNaN(g[0])) {
            expect(after[row * DIM + c]).toBe(p); // untouched
          } else {
            const m = (1 - ADAM_BETA1) * g[c];
            const v = (1 - ADAM_BETA2) * g[c] * g[c];
            expect(after[row * DIM + c]).toBeCloseTo(p - (lr * m) / (Math.sqrt(v) + ADAM_EPS), 5);
          }
        }
      });
    };
    check(step.net.userTable.data, before.userTable.data, userGrads);
    check(step.net.itemTable.data, before.itemTable.data, itemGrads);
    check(step.net.historyTable.data, before.historyTable.data, historyGrads);
    // Some rows are untouched, some touched: both branches above ran.
    expect(userGrads.filter((g) => Number.isNaN(g[0])).length).toBe(2);
    expect(historyGrads.filter((g) => Number.isNaN(g[0])).length).toBe(2);
  });

  it('gives the same bits on one and two threads over several steps', () => {
    const [one, two] = [newStep(1), newStep(2)];
    const batches: Batch[] = [BATCH, { ...BATCH, users: [2, 1, 0], itemIds: [4, 3, 1, 0, 5], itemOf: [4, 3, 1, 0, 5] }];
    // The second batch is filled by `run` while the first trains (fillNext), the third by the caller.
    const losses = [one, two].map((s) => {
      load(s.inputs, batches[0]);
      const out = [s.run(B, 0.05, (next) => load(next, batches[1]))];
      out.push(s.run(B, 0.05));
      load(s.inputs, batches[0]);
      out.push(s.run(B, 0.05));
      return out;
    });
    expect(losses[1]).toEqual(losses[0]);
    for (const pick of [(n: TwoTowerNet) => n.towers.flat, (n: TwoTowerNet) => n.userTable.data, (n: TwoTowerNet) => n.historyTable.data]) {
      expect(Buffer.from(pick(two.net).slice().buffer).equals(Buffer.from(pick(one.net).slice().buffer))).toBe(true);
    }
    // The weights did move.
    expect(one.net.towers.flat).not.toEqual(initialNet().towers.flat);
  });
});
