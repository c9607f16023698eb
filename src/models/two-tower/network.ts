import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../../util/rng.js';

/**
 * The dense part of both towers, the same shape on each side:
 *   h = relu(x · W1 + b1),  y = h · W2 + b2,  out = y / max(‖y‖, ε)
 * The user tower's x is [user id embedding | mean of the recent items' history embeddings];
 * the item tower's x is [item id embedding | content features]. Both towers' weights live in
 * one flat Float32Array (Adam runs on it in one pass; the ONNX export reads it).
 *
 * Backward is written out rather than taken from tf.grad: every matrix product is then a
 * plain A·B (transposes made explicit), which the wasm backend runs on XNNPACK; its kernel
 * for transposed operands is a scalar loop about 20× slower (docs/benchmarks.md).
 */
export const NORM_EPS = 1e-12;

export interface TowerShape {
  readonly input: number;
  readonly hidden: number;
  readonly output: number;
}

/** Views into the flat parameter vector. */
export interface TowerWeights {
  readonly shape: TowerShape;
  readonly w1: Float32Array;
  readonly b1: Float32Array;
  readonly w2: Float32Array;
  readonly b2: Float32Array;
}

function towerSize(s: TowerShape): number {
  return s.input * s.hidden + s.hidden + s.hidden * s.output + s.output;
}

function towerViews(flat: Float32Array, offset: number, shape: TowerShape): TowerWeights {
  let o = offset;
  const take = (n: number): Float32Array => {
    const v = flat.subarray(o, o + n);
    o += n;
    return v;
  };
  return {
    shape,
    w1: take(shape.input * shape.hidden),
    b1: take(shape.hidden),
    w2: take(shape.hidden * shape.output),
    b2: take(shape.output),
  };
}

/** Both towers' dense weights: [user W1 b1 W2 b2 | item W1 b1 W2 b2]. */
export class TowerParams {
  readonly user: TowerWeights;
  readonly item: TowerWeights;

  constructor(
    readonly userShape: TowerShape,
    readonly itemShape: TowerShape,
    readonly flat: Float32Array = new Float32Array(towerSize(userShape) + towerSize(itemShape)),
  ) {
    if (flat.length !== towerSize(userShape) + towerSize(itemShape)) throw new Error('TowerParams: flat vector has the wrong length');
    this.user = towerViews(flat, 0, userShape);
    this.item = towerViews(flat, towerSize(userShape), itemShape);
  }

  /** Glorot-uniform weights, zero biases. */
  static init(userShape: TowerShape, itemShape: TowerShape, rng: Rng): TowerParams {
    const p = new TowerParams(userShape, itemShape);
    for (const t of [p.user, p.item]) {
      glorot(t.w1, t.shape.input, t.shape.hidden, rng);
      glorot(t.w2, t.shape.hidden, t.shape.output, rng);
    }
    return p;
  }
}

function glorot(w: Float32Array, fanIn: number, fanOut: number, rng: Rng): void {
  const a = Math.sqrt(6 / (fanIn + fanOut));
  for (let i = 0; i < w.length; i++) w[i] = (2 * rng.next() - 1) * a;
}

interface TowerTensors {
  readonly w1: tf.Tensor2D;
  readonly b1: tf.Tensor1D;
  readonly w2: tf.Tensor2D;
  readonly b2: tf.Tensor1D;
}

function tensorsOf(t: TowerWeights): TowerTensors {
  const s = t.shape;
  return {
    w1: tf.tensor2d(t.w1, [s.input, s.hidden]),
    b1: tf.tensor1d(t.b1),
    w2: tf.tensor2d(t.w2, [s.hidden, s.output]),
    b2: tf.tensor1d(t.b2),
  };
}

interface TowerActivations {
  readonly h: tf.Tensor2D;
  readonly norm: tf.Tensor2D;
  readonly out: tf.Tensor2D;
}

function towerForward(x: tf.Tensor2D, t: TowerTensors): TowerActivations {
  const h = tf.fused.matMul({ a: x, b: t.w1, bias: t.b1, activation: 'relu' }) as tf.Tensor2D;
  const y = tf.fused.matMul({ a: h, b: t.w2, bias: t.b2 });
  const norm = tf.maximum(tf.sqrt(tf.sum(tf.square(y), 1, true)), NORM_EPS) as tf.Tensor2D;
  return { h, norm, out: tf.div(y, norm) as tf.Tensor2D };
}

/** Gradients of one tower given d(loss)/d(out), in the flat layout order, and d(loss)/dx. */
function towerBackward(x: tf.Tensor2D, t: TowerTensors, a: TowerActivations, dOut: tf.Tensor2D): { dx: tf.Tensor2D; grads: tf.Tensor[] } {
  // Through the normalisation: dy = (dOut − out·⟨dOut, out⟩) / ‖y‖.
  const dy = tf.div(tf.sub(dOut, tf.mul(a.out, tf.sum(tf.mul(dOut, a.out), 1, true))), a.norm) as tf.Tensor2D;
  const dw2 = tf.matMul(tf.transpose(a.h), dy);
  const db2 = columnSums(dy);
  const dh = tf.mul(tf.matMul(dy, tf.transpose(t.w2)), tf.step(a.h)) as tf.Tensor2D;
  const dw1 = tf.matMul(tf.transpose(x), dh);
  const db1 = columnSums(dh);
  const dx = tf.matMul(dh, tf.transpose(t.w1)) as tf.Tensor2D;
  return { dx, grads: [tf.reshape(dw1, [-1]), db1, tf.reshape(dw2, [-1]), db2] };
}

/** Σ over rows, as ones·m: a product runs on XNNPACK, an axis-0 sum transposes first on wasm. */
function columnSums(m: tf.Tensor2D): tf.Tensor {
  return tf.reshape(tf.matMul(tf.ones([1, m.shape[0]]), m), [-1]);
}

/** One batch: B user rows, B positive item rows followed by any extra negative item rows. */
export interface StepInput {
  readonly users: Float32Array;
  readonly items: Float32Array;
  readonly batch: number;
  readonly itemRows: number;
  /** B × itemRows added to the logits: −logQ corrections, and −1e9 on accidental hits. */
  readonly bias: Float32Array;
}

export interface StepOutput {
  readonly loss: number;
  /** d(loss)/d(user input rows), B × user input width. */
  readonly dUsers: Float32Array;
  /** d(loss)/d(item input rows), itemRows × item input width. */
  readonly dItems: Float32Array;
  /** d(loss)/d(params.flat). */
  readonly grad: Float32Array;
}

/**
 * Forward and backward of the in-batch sampled softmax: logits_bj = ⟨u_b, v_j⟩/τ + bias_bj,
 * the positive of row b is column b, loss = −mean_b log softmax(logits_b)_b.
 */
export function trainStep(input: StepInput, params: TowerParams, temperature: number): StepOutput {
  const { batch: B, itemRows: N } = input;
  const [loss, dUsers, dItems, grad] = tf.tidy(() => {
    const ut = tensorsOf(params.user);
    const it = tensorsOf(params.item);
    const xu = tf.tensor2d(input.users, [B, params.userShape.input]);
    const xi = tf.tensor2d(input.items, [N, params.itemShape.input]);
    const u = towerForward(xu, ut);
    const v = towerForward(xi, it);
    const invT = 1 / temperature;
    const logits = tf.add(tf.matMul(tf.mul(u.out, invT), tf.transpose(v.out)), tf.tensor2d(input.bias, [B, N]));
    const probs = tf.softmax(logits);
    const target = N > B ? tf.concat([tf.eye(B), tf.zeros([B, N - B])], 1) : tf.eye(B);
    // loss = −mean log p(positive); the floor keeps an underflowed probability finite in the report.
    const lossT = tf.neg(tf.mean(tf.log(tf.maximum(tf.sum(tf.mul(probs, target), 1), 1e-30))));
    // d(loss)/d(logits) = (softmax − target) / B, times 1/τ for d(loss)/d(scaled dot products).
    const dLogits = tf.div(tf.sub(probs, target), B / invT) as tf.Tensor2D;
    const dU = tf.matMul(dLogits, v.out) as tf.Tensor2D;
    // dV = dLogitsᵀ·u, formed as (uᵀ·dLogits)ᵀ: transposing two thin matrices is cheaper than one B × N.
    const dV = tf.transpose(tf.matMul(tf.transpose(u.out), dLogits)) as tf.Tensor2D;
    const bu = towerBackward(xu, ut, u, dU);
    const bi = towerBackward(xi, it, v, dV);
    return [lossT, bu.dx, bi.dx, tf.concat([...bu.grads, ...bi.grads])];
  });
  const out: StepOutput = {
    loss: (loss.dataSync() as Float32Array)[0],
    dUsers: dUsers.dataSync() as Float32Array,
    dItems: dItems.dataSync() as Float32Array,
    grad: grad.dataSync() as Float32Array,
  };
  tf.dispose([loss, dUsers, dItems, grad]);
  return out;
}

/** Tower outputs (L2-normalised rows) for `rows` input rows, computed in batches. */
export function towerOutputs(x: Float32Array, rows: number, t: TowerWeights, batchRows = 4096): Float32Array {
  const { input, output } = t.shape;
  const out = new Float32Array(rows * output);
  const weights = tensorsOf(t);
  try {
    for (let start = 0; start < rows; start += batchRows) {
      const n = Math.min(batchRows, rows - start);
      // tidy returns the tensor, not its values: tidy walks a returned array element by element.
      const values = tf.tidy(() => towerForward(tf.tensor2d(x.subarray(start * input, (start + n) * input), [n, input]), weights).out);
      out.set(values.dataSync(), start * output);
      values.dispose();
    }
  } finally {
    tf.dispose([weights.w1, weights.b1, weights.w2, weights.b2]);
  }
  return out;
}
