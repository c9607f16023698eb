import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/models/two-tower/backend.js';
import { TowerParams, trainStep, type StepInput, type TowerWeights } from '../../src/models/two-tower/network.js';
import { Rng } from '../../src/util/rng.js';

/** The loss written out in float64 JavaScript, independently of the TensorFlow.js code. */
function referenceLoss(input: StepInput, params: TowerParams, temperature: number): number {
  const tower = (x: Float32Array | Float64Array, rows: number, w: TowerWeights): Float64Array => {
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
      norm = Math.sqrt(norm);
      for (let k = 0; k < O; k++) out[r * O + k] /= norm;
    }
    return out;
  };
  const B = input.batch;
  const N = input.itemRows;
  const D = params.userShape.output;
  const u = tower(input.users, B, params.user);
  const v = tower(input.items, N, params.item);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const logits = new Float64Array(N);
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < D; k++) s += u[b * D + k] * v[j * D + k];
      logits[j] = s / temperature + input.bias[b * N + j];
    }
    const max = Math.max(...logits);
    const lse = max + Math.log(logits.reduce((a, l) => a + Math.exp(l - max), 0));
    loss += lse - logits[b];
  }
  return loss / B;
}

describe('two-tower network step', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  const rng = new Rng(7);
  const userShape = { input: 6, hidden: 5, output: 4 };
  const itemShape = { input: 7, hidden: 5, output: 4 };
  const params = TowerParams.init(userShape, itemShape, rng);
  for (let i = 0; i < params.flat.length; i++) params.flat[i] += 0.1 * rng.normal(); // non-zero biases too
  const B = 3;
  const N = 5; // 3 positives + 2 extra negatives
  const input: StepInput = {
    users: Float32Array.from({ length: B * userShape.input }, () => rng.normal()),
    items: Float32Array.from({ length: N * itemShape.input }, () => rng.normal()),
    batch: B,
    itemRows: N,
    bias: Float32Array.from({ length: B * N }, (_, i) => (i === 1 ? -1e9 : -0.3 * (i % N))),
  };
  const temperature = 0.5;

  it('computes the loss of the in-batch softmax', () => {
    const out = trainStep(input, params, temperature);
    expect(out.loss).toBeCloseTo(referenceLoss(input, params, temperature), 4);
  });

  it('gives the gradients of finite differences for weights and inputs', () => {
    const out = trainStep(input, params, temperature);
    const h = 1e-3;
    const numeric = (arr: Float32Array, i: number): number => {
      const keep = arr[i];
      arr[i] = keep + h;
      const up = referenceLoss(input, params, temperature);
      arr[i] = keep - h;
      const down = referenceLoss(input, params, temperature);
      arr[i] = keep;
      return (up - down) / (2 * h);
    };
    const check = (analytic: Float32Array, arr: Float32Array): void => {
      for (let i = 0; i < arr.length; i++) expect(Math.abs(analytic[i] - numeric(arr, i))).toBeLessThan(2e-3);
    };
    check(out.grad, params.flat);
    check(out.dUsers, input.users);
    check(out.dItems, input.items);
    // The gradients are not all ~0 (the check above would then be empty).
    expect(Math.max(...out.grad.map(Math.abs))).toBeGreaterThan(0.01);
    expect(Math.max(...out.dItems.map(Math.abs))).toBeGreaterThan(0.01);
  });
});
