import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OnnxGraphBuilder, ONNX_OPSET } from '../../src/onnx/graph.js';
import { decodeModel, ONNX_FLOAT, ONNX_INT64 } from '../../src/onnx/proto.js';
import { maxAbsDiff, onnxCheck, runOrtInChild } from './helpers.js';

/**
 * y = relu([table[idx] | x] · W + b), with idx = -1 meaning "no row" (zeros): the pattern of
 * the two-tower graphs, small enough to compute by hand.
 */
function buildTinyModel(path: string): void {
  const g = new OnnxGraphBuilder('tiny');
  const idx = g.input('index', ONNX_INT64, ['batch'], 'row of table, -1 for none');
  const x = g.input('x', ONNX_FLOAT, ['batch', 1]);
  // Row 0 of the padded table is the zero row that index -1 lands on.
  const table = g.floats('table', Float32Array.from([0, 0, 1, 2, -3, 4]), [3, 2]);
  const shifted = g.node('Add', [idx, g.int64s('one', [1], [])]);
  const rows = g.node('Gather', [table, shifted], { axis: 0 });
  const cat = g.node('Concat', [rows, x], { axis: 1 });
  const w = g.floats('w', Float32Array.from([1, 0, 0, 1, 0.5, -1]), [3, 2]);
  const b = g.floats('b', Float32Array.from([0.25, -0.5]), [2]);
  const y = g.node('Relu', [g.node('Add', [g.node('MatMul', [cat, w]), b])], {}, 'y');
  g.output(y, ONNX_FLOAT, ['batch', 2]);
  g.write(path, { docString: 'test graph', producerVersion: '0', metadata: { purpose: 'test' } });
}

describe('ONNX graph builder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recsys-onnx-'));
  const path = join(dir, 'tiny.onnx');
  buildTinyModel(path);

  it('writes a model that onnx.checker accepts, with the declared opset', () => {
    const check = onnxCheck(path);
    expect(check.message).toBe('');
    expect(check.ok).toBe(true);
    expect(check.opset).toBe(ONNX_OPSET);
  });

  it('decodes back to the same graph', () => {
    const m = decodeModel(readFileSync(path));
    expect(m.graph.node.map((n) => n.op_type)).toEqual(['Add', 'Gather', 'Concat', 'MatMul', 'Add', 'Relu']);
    expect(m.graph.input.map((v) => v.name)).toEqual(['index', 'x']);
    expect(m.graph.output.map((v) => v.name)).toEqual(['y']);
    expect(m.metadata_props).toEqual([{ key: 'purpose', value: 'test' }]);
    const w = m.graph.initializer.find((t) => t.name === 'w');
    expect(w?.dims).toEqual([3, 2]);
    expect(Array.from(new Float32Array(Uint8Array.from(w!.raw_data).buffer))).toEqual([1, 0, 0, 1, 0.5, -1]);
  });

  it('runs in onnxruntime with any batch size and gives the hand-computed values', () => {
    // Rows: index 0 → [1,2], index 1 → [-3,4], index -1 → [0,0].
    // index 0, x 2:  [1,2,2]·W = [1+1, 2-2] = [2, 0] + b = [2.25, -0.5] → relu [2.25, 0]
    // index 1, x 0:  [-3,4,0]·W = [-3, 4] + b = [-2.75, 3.5] → [0, 3.5]
    // index -1, x 4: [0,0,4]·W = [2, -4] + b = [2.25, -4.5] → [2.25, 0]
    const res = runOrtInChild(path, {
      index: { type: 'int64', dims: [3], data: [0, 1, -1] },
      x: { type: 'float32', dims: [3, 1], data: [2, 0, 4] },
    });
    expect(res.inputs).toEqual(['index', 'x']);
    expect(res.outputs.y.dims).toEqual([3, 2]);
    expect(maxAbsDiff(res.outputs.y.data, [2.25, 0, 0, 3.5, 2.25, 0])).toBeLessThan(1e-6);
    const one = runOrtInChild(path, { index: { type: 'int64', dims: [1], data: [1] }, x: { type: 'float32', dims: [1, 1], data: [1] } });
    // [-3,4,1]·W = [-3+0.5, 4-1] = [-2.5, 3] + b → [0, 2.5]
    expect(maxAbsDiff(one.outputs.y.data, [0, 2.5])).toBeLessThan(1e-6);
  });

  it('refuses a value name used twice and an initializer of the wrong size', () => {
    const g = new OnnxGraphBuilder('bad');
    g.input('a', ONNX_FLOAT, [1]);
    expect(() => g.floats('a', new Float32Array(1), [1])).toThrow(/used twice/);
    expect(() => g.floats('b', new Float32Array(3), [2, 2])).toThrow(/3 values/);
  });
});
