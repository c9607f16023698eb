// Runs one ONNX model with onnxruntime-node in a fresh process that loads nothing but the
// .onnx file: `node ort-run.mjs model.onnx inputs.json` prints {output: {dims, data}} as JSON.
// inputs.json: {"name": {"type": "float32" | "int64", "dims": [..], "data": [..]}}.
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';

const [modelPath, inputsPath] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(inputsPath, 'utf8'));
const feeds = {};
for (const [name, { type, dims, data }] of Object.entries(spec)) {
  const values = type === 'int64' ? BigInt64Array.from(data, (v) => BigInt(v)) : Float32Array.from(data);
  feeds[name] = new ort.Tensor(type, values, dims);
}
const session = await ort.InferenceSession.create(modelPath);
const results = await session.run(feeds);
const out = {};
for (const name of session.outputNames) out[name] = { dims: results[name].dims, data: Array.from(results[name].data, Number) };
process.stdout.write(JSON.stringify({ inputs: session.inputNames, outputs: out }));
