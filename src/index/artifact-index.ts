import { join } from 'node:path';
import { readManifest } from '../artifacts/store.js';
import type { Embeddings } from '../matrix/embeddings.js';
import type { AnnIndex } from './ann-index.js';
import { readIndex } from './io.js';
import { augmentQueries, MIPS_TRANSFORM } from './mips.js';

/** File names of the index inside a model artifact (written by `recsys index`). */
export const INDEX_FILE = 'items.faiss';
export const INDEX_IDS_FILE = 'items.faiss.ids.npy';

/**
 * The index stored in a model artifact, with the search settings it was built with (or
 * overrides), and how query vectors must be prepared for it.
 */
export function openModelIndex(
  dir: string,
  overrides: { nprobe?: number; efSearch?: number } = {},
): { index: AnnIndex; prepareQueries: (q: Embeddings) => Embeddings } {
  const manifest = readManifest(dir);
  const index = readIndex(join(dir, INDEX_FILE));
  const built = (manifest.config.index ?? {}) as { nprobe?: number; efSearch?: number; transform?: { kind: string } | null };
  index.setSearchParams({ nprobe: overrides.nprobe ?? built.nprobe, efSearch: overrides.efSearch ?? built.efSearch });
  const transformed = built.transform?.kind === MIPS_TRANSFORM;
  return { index, prepareQueries: (q) => (transformed ? augmentQueries(q) : q) };
}
