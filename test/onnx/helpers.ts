import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's python3-onnx: the python3 first on PATH may be another interpreter. */
const PYTHON = '/usr/bin/python3';
const ORT_RUN = new URL('./ort-run.mjs', import.meta.url).pathname;

/** Runs onnx.checker.check_model (with shape inference) on a file; returns its stderr on failure. */
export function onnxCheck(path: string): { ok: boolean; message: string; opset: number; irVersion: number } {
  try {
    const out = execFileSync(
      PYTHON,
      [
        '-c',
        'import onnx, sys, json\nm = onnx.load(sys.argv[1])\nonnx.checker.check_model(m, full_check=True)\nprint(json.dumps({"opset": m.opset_import[0].version, "ir": m.ir_version}))',
        path,
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const info = JSON.parse(out) as { opset: number; ir: number };
    return { ok: true, message: '', opset: info.opset, irVersion: info.ir };
  } catch (err) {
    return { ok: false, message: String((err as { stderr?: string }).stderr ?? err), opset: 0, irVersion: 0 };
  }
}

export interface OrtInput {
  readonly type: 'float32' | 'int64';
  readonly dims: number[];
  readonly data: ArrayLike<number>;
}

export interface OrtResult {
  readonly inputs: string[];
  readonly outputs: Record<string, { dims: number[]; data: number[] }>;
}

/** Runs a model with onnxruntime-node in a child process that loads only the .onnx file. */
export function runOrtInChild(modelPath: string, inputs: Record<string, OrtInput>): OrtResult {
  const dir = mkdtempSync(join(tmpdir(), 'recsys-ort-'));
  const inputsPath = join(dir, 'inputs.json');
  const plain: Record<string, { type: string; dims: number[]; data: number[] }> = {};
  for (const [name, x] of Object.entries(inputs)) plain[name] = { type: x.type, dims: x.dims, data: Array.from(x.data) };
  writeFileSync(inputsPath, JSON.stringify(plain));
  const out = execFileSync(process.execPath, [ORT_RUN, modelPath, inputsPath], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return JSON.parse(out) as OrtResult;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
