import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { InputError } from '../../util/errors.js';
import { log } from '../../util/log.js';
import type { BackendChoice } from './params.js';

/**
 * TensorFlow.js backend selection, best first:
 *   tensorflow  @tensorflow/tfjs-node (native libtensorflow), an optional dependency whose
 *               install downloads a binary; used when it loads
 *   wasm        @tensorflow/tfjs-backend-wasm: XNNPACK kernels, SIMD when the runtime has it
 *   cpu         plain JavaScript kernels, the last resort (orders of magnitude slower)
 * `RECSYS_WASM_SIMD=0` turns wasm SIMD off (benchmarks compare both).
 */
export interface BackendInfo {
  readonly name: 'tensorflow' | 'wasm' | 'cpu';
  /** wasm only: whether the SIMD build runs. */
  readonly simd: boolean | null;
  /** wasm only: kernel threads (tfjs disables wasm threads under Node). */
  readonly threads: number | null;
  /** Why better backends were passed over. */
  readonly skipped: string[];
}

let active: BackendInfo | null = null;
let wasmModule: typeof import('@tensorflow/tfjs-backend-wasm') | null = null;

export async function initBackend(choice: BackendChoice): Promise<BackendInfo> {
  if (active && (choice === 'auto' || choice === active.name)) return active;
  const skipped: string[] = [];
  if (choice === 'auto' || choice === 'tensorflow') {
    const err = await tryTfjsNode();
    if (err === null) return activate({ name: 'tensorflow', simd: null, threads: null, skipped });
    if (choice === 'tensorflow')
      throw new InputError(`two-tower: backend "tensorflow" asked for, but @tensorflow/tfjs-node does not load: ${err}`);
    skipped.push(`tensorflow: ${err}`);
  }
  if (choice === 'auto' || choice === 'wasm') {
    try {
      wasmModule ??= await import('@tensorflow/tfjs-backend-wasm');
      if (process.env.RECSYS_WASM_SIMD === '0') tf.env().set('WASM_HAS_SIMD_SUPPORT', false);
      if (!(await tf.setBackend('wasm'))) throw new Error('setBackend("wasm") returned false');
      const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
      return activate({ name: 'wasm', simd, threads: wasmModule.getThreadsCount(), skipped });
    } catch (e) {
      if (choice === 'wasm') throw new InputError(`two-tower: backend "wasm" does not initialise: ${(e as Error).message}`);
      skipped.push(`wasm: ${(e as Error).message}`);
    }
  }
  if (!(await tf.setBackend('cpu'))) throw new Error('two-tower: no TensorFlow.js backend initialises');
  return activate({ name: 'cpu', simd: null, threads: null, skipped });
}

async function tryTfjsNode(): Promise<string | null> {
  // A variable specifier: the package is optional and may be absent at compile time too.
  const specifier = '@tensorflow/tfjs-node';
  try {
    await import(specifier);
    return (await tf.setBackend('tensorflow')) ? null : 'setBackend("tensorflow") returned false';
  } catch (e) {
    return ((e as Error).message ?? String(e)).split('\n')[0];
  }
}

function activate(info: BackendInfo): BackendInfo {
  active = info;
  const detail = info.name === 'wasm' ? ` (SIMD ${info.simd ? 'on' : 'off'}, ${info.threads} thread${info.threads === 1 ? '' : 's'})` : '';
  log.info(`two-tower: TensorFlow.js backend ${info.name}${detail}`);
  log.event('two-tower.backend', { ...info });
  return info;
}

/** The backend in use (initBackend must have run). */
export function activeBackend(): BackendInfo {
  if (!active) throw new Error('two-tower: TensorFlow.js backend not initialised');
  return active;
}
