import { createRequire } from 'node:module';
import type * as FaissNode from 'faiss-node';
import { RecsysError } from '../util/errors.js';

/**
 * The faiss-node addon, built against Debian's libfaiss by scripts/setup.d/20-faiss.sh with
 * patches/faiss-node+0.5.1.patch (typed arrays, setParam, settings, thread count). Loaded on
 * first use so that commands which never touch an index run without the native build.
 */
export type FaissModule = typeof FaissNode;
export type NativeIndex = FaissNode.Index;
export type IndexSettings = FaissNode.IndexSettings;

let loaded: FaissModule | null = null;

export function faiss(): FaissModule {
  if (loaded) return loaded;
  // OpenMP threads that spin at barriers starve the thread they wait for when the other
  // cores are busy: on 2 shared cores, batched exact search ran 8x and k-means 5x slower
  // than with passive waiting. libgomp reads this when the addon loads it; users may override.
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  try {
    loaded = createRequire(import.meta.url)('faiss-node') as FaissModule;
  } catch (err) {
    const reason = (err as Error).message.split('\n')[0];
    throw new RecsysError(`the faiss-node addon is not built (${reason}); run scripts/setup.sh (make setup)`);
  }
  return loaded;
}

/** OpenMP threads FAISS uses for the calls this (the main) thread makes. */
export function setFaissThreads(threads: number): void {
  faiss().setNumThreads(threads);
}

export function faissThreads(): number {
  return faiss().getNumThreads();
}
