import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { InputError, RecsysError } from '../util/errors.js';
import { tempPathFor } from '../util/fs.js';
import { AnnIndex } from './ann-index.js';
import type { NativeIndex } from './native.js';
import { faiss } from './native.js';

/**
 * Writes the index in FAISS's own format (read by faiss.read_index in Python or C++), under a
 * temporary name renamed into place when complete. Returns the file size in bytes.
 */
export function writeIndex(index: AnnIndex, path: string): number {
  const tmp = tempPathFor(path);
  try {
    mkdirSync(dirname(path), { recursive: true });
    index.native.write(tmp);
    renameSync(tmp, path);
  } catch (err) {
    if (existsSync(tmp)) rmSync(tmp);
    throw new RecsysError(`writing the index to ${path} failed: ${(err as Error).message}`);
  }
  return statSync(path).size;
}

/** Reads a FAISS index file of any type FAISS knows (Flat, IVF, HNSW, PQ, ...). */
export function readIndex(path: string): AnnIndex {
  if (!existsSync(path)) throw new InputError(`${path}: no such index file`);
  let native: NativeIndex;
  try {
    native = faiss().Index.read(path);
  } catch (err) {
    throw new InputError(`${path}: not a readable FAISS index (${(err as Error).message})`);
  }
  return new AnnIndex(native, path);
}
