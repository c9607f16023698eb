import { KernelModule } from '../../wasm/arena.js';

/** The ALS kernels (asm/als.ts): the conjugate-gradient solve, the loss, the Gram matrix and dense scoring. */
export const ALS_KERNELS = new KernelModule('als', new URL('../../../wasm/als.wasm', import.meta.url), [
  'cgSolve',
  'lossRows',
  'gramRows',
  'scorePanels',
] as const);

export type AlsKernel = (typeof ALS_KERNELS.kernels)[number];
