import { excerpt, InputError } from '../util/errors.js';

/**
 * The FAISS index factory strings this project builds, checked before FAISS sees them: FAISS
 * 1.7.3 aborts the process on some (`IVF0,Flat` fails an assertion, `HNSW0` and `PQ0`
 * segfault, `IVF4_HNSW1,Flat` never returns), and the pipeline checks a step's factory when it
 * loads the file, long before the index is built. Grammar (docs/artifacts.md):
 *
 *   [TRANSFORM,]... MAIN
 *   TRANSFORM  OPQm[_d] | PCA[W][R]d | L2norm
 *   MAIN       Flat | PQm[xb][np] | SQq | HNSWm[,Flat|,SQq] | IVFn[_HNSWm],(Flat|PQm[xb][np]|SQq)
 *   SQq        SQ4 | SQ6 | SQ8 | SQfp16
 */
export type Transform =
  | { readonly kind: 'opq'; readonly m: number; readonly dOut: number | undefined }
  | { readonly kind: 'pca'; readonly dOut: number }
  | { readonly kind: 'l2norm' };

export type Encoding =
  | { readonly kind: 'flat' }
  | { readonly kind: 'pq'; readonly m: number; readonly nbits: number }
  | { readonly kind: 'sq' };

export interface FactorySpec {
  readonly text: string;
  readonly transforms: readonly Transform[];
  /** IVF: inverted lists (and the HNSW graph of the coarse quantizer, if any); HNSW: links per node. */
  readonly structure:
    | { readonly kind: 'ivf'; readonly nlist: number; readonly quantizerM: number | undefined }
    | { readonly kind: 'hnsw'; readonly m: number }
    | { readonly kind: 'none' };
  readonly encoding: Encoding;
}

/** Bounds past which FAISS crashes, hangs, or allocates without limit. */
const LIMITS = {
  /** HNSW with fewer than 2 links per node crashes (M 1) or never returns (IVF…_HNSW1). */
  hnswM: [2, 256],
  /** FAISS's IVF-PQ codes hold at most 8 bits per sub-quantizer; flat PQ up to 16. */
  ivfPqBits: [1, 8],
  pqBits: [1, 16],
  /** FAISS parses these with stoi. */
  count: [1, 2 ** 31 - 1],
} as const;

const SUPPORTED =
  'supported: Flat, PQm[xb][np], SQ8 (SQ4, SQ6, SQfp16), HNSWm[,Flat|,SQ8], IVFn[_HNSWm],Flat|PQm[np]|SQ8, each optionally after OPQm[_d], PCAd, L2norm';

function invalid(text: string, reason: string, listSupported = false): InputError {
  return new InputError(`invalid FAISS factory string ${excerpt(text)}: ${reason}${listSupported ? ` (${SUPPORTED})` : ''}`);
}

/** Parses an integer part `digits` of the factory, within [min, max]. */
function count(text: string, what: string, digits: string, [min, max]: readonly [number, number]): number {
  const n = Number(digits);
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw invalid(text, `${what} must be an integer from ${min} to ${max}, not ${digits.length > 20 ? `${digits.slice(0, 20)}…` : digits}`);
  return n;
}

function transformOf(text: string, part: string): Transform | null {
  let m = /^OPQ(\d+)(?:_(\d+))?$/.exec(part);
  if (m) {
    return {
      kind: 'opq',
      m: count(text, 'OPQ sub-quantizers', m[1], LIMITS.count),
      dOut: m[2] === undefined ? undefined : count(text, 'OPQ output dimension', m[2], LIMITS.count),
    };
  }
  m = /^PCAW?R?(\d+)$/.exec(part);
  if (m) return { kind: 'pca', dOut: count(text, 'PCA output dimension', m[1], LIMITS.count) };
  return part === 'L2norm' ? { kind: 'l2norm' } : null;
}

function encodingOf(text: string, part: string, underIvf: boolean): Encoding | null {
  if (part === 'Flat') return { kind: 'flat' };
  if (/^SQ(4|6|8|fp16)$/.test(part)) return { kind: 'sq' };
  const m = /^PQ(\d+)(?:x(\d+))?(np)?$/.exec(part);
  if (!m) return null;
  return {
    kind: 'pq',
    m: count(text, 'PQ sub-quantizers', m[1], LIMITS.count),
    nbits: m[2] === undefined ? 8 : count(text, 'PQ bits per code', m[2], underIvf ? LIMITS.ivfPqBits : LIMITS.pqBits),
  };
}

/** Parses and range-checks a factory string; an InputError names what is wrong and lists the supported forms. */
export function parseFactory(text: string): FactorySpec {
  const parts = text.split(',');
  if (text.trim() === '') throw invalid(text, 'empty', true);
  const transforms: Transform[] = [];
  let i = 0;
  for (; i < parts.length - 1; i++) {
    const t = transformOf(text, parts[i]);
    if (!t) break;
    transforms.push(t);
  }
  const main = parts.slice(i);
  const unknown = (part: string): InputError =>
    invalid(text, `cannot read ${excerpt(part)}${part !== part.trim() ? ', which has spaces' : ''}`, true);

  const ivf = /^IVF(\d+)(?:_HNSW(\d+))?$/.exec(main[0]);
  if (ivf) {
    const nlist = count(text, 'IVF lists', ivf[1], LIMITS.count);
    const quantizerM = ivf[2] === undefined ? undefined : count(text, 'HNSW links per node', ivf[2], LIMITS.hnswM);
    if (main.length !== 2) throw invalid(text, `${main[0]} needs one encoding after it: ${main[0]},Flat, ${main[0]},PQm or ${main[0]},SQ8`);
    const encoding = encodingOf(text, main[1], true);
    if (!encoding) throw unknown(main[1]);
    return { text, transforms, structure: { kind: 'ivf', nlist, quantizerM }, encoding };
  }
  const hnsw = /^HNSW(\d+)$/.exec(main[0]);
  if (hnsw) {
    const m = count(text, 'HNSW links per node', hnsw[1], LIMITS.hnswM);
    if (main.length > 2) throw unknown(main[2]);
    // HNSW over PQ codes silently searches with L2 whatever the metric: not offered.
    const encoding = main.length === 2 ? encodingOf(text, main[1], false) : { kind: 'flat' as const };
    if (!encoding || encoding.kind === 'pq') throw invalid(text, `${main[0]} takes Flat or SQ storage, not ${excerpt(main[1])}`);
    return { text, transforms, structure: { kind: 'hnsw', m }, encoding };
  }
  if (main.length !== 1) throw unknown(main[0]);
  const encoding = encodingOf(text, main[0], false);
  if (!encoding) throw unknown(main[0]);
  return { text, transforms, structure: { kind: 'none' }, encoding };
}

/**
 * Why `spec` cannot index `rows` vectors of dimension `dim`, or null when it can: every
 * sub-quantizer count must divide the dimension it sees, a PCA or OPQ cannot add dimensions,
 * and IVF needs at least as many vectors as lists.
 */
export function factoryMisfit(spec: FactorySpec, dim: number, rows: number): string | null {
  let d = dim;
  for (const t of spec.transforms) {
    if (t.kind === 'l2norm') continue;
    const out = t.dOut ?? d;
    if (out > d) return `${t.kind.toUpperCase()} cannot make ${d}-dimensional vectors ${out}-dimensional`;
    if (t.kind === 'opq' && out % t.m !== 0) return `OPQ${t.m} needs a dimension that is a multiple of ${t.m}, not ${out}`;
    d = out;
  }
  if (spec.encoding.kind === 'pq' && d % spec.encoding.m !== 0)
    return `PQ${spec.encoding.m} needs a dimension that is a multiple of ${spec.encoding.m}, not ${d}`;
  if (spec.structure.kind === 'ivf' && spec.structure.nlist > rows)
    return `IVF${spec.structure.nlist} has ${spec.structure.nlist} lists but only ${rows} vectors to index: use fewer lists`;
  return null;
}

/** `factoryMisfit` as an InputError. */
export function checkFactoryFits(spec: FactorySpec, dim: number, rows: number): void {
  const misfit = factoryMisfit(spec, dim, rows);
  if (misfit !== null) throw new InputError(`FAISS factory ${excerpt(spec.text)} on ${rows} vectors of dimension ${dim}: ${misfit}`);
}
