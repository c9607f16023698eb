import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../../util/rng.js';

/**
 * The dense part of both towers, the same shape on each side:
 *   h = relu(x · W1 + b1),  y = h · W2 + b2,  out = y / max(‖y‖, ε)
 * The user tower's x is [user id embedding | mean of the recent items' history embeddings];
 * the item tower's x is [item id embedding | content features]. Both towers' weights live in
 * one flat Float32Array (Adam runs on it in one pass; the ONNX export reads it).
 * Training runs on own kernels (step.ts); TensorFlow.js evaluates the trained towers here.
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
