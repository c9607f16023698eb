import { describe, expect, it } from 'vitest';
import { factoryMisfit, parseFactory } from '../../src/index/factory.js';
import { InputError } from '../../src/util/errors.js';

function refused(text: string): string {
  try {
    parseFactory(text);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error(`${text} was accepted`);
}

describe('FAISS factory strings', () => {
  it('reads the supported forms into their parts', () => {
    expect(parseFactory('Flat')).toMatchObject({ transforms: [], structure: { kind: 'none' }, encoding: { kind: 'flat' } });
    expect(parseFactory('IVF256,PQ16np')).toMatchObject({
      structure: { kind: 'ivf', nlist: 256, quantizerM: undefined },
      encoding: { kind: 'pq', m: 16, nbits: 8 },
    });
    expect(parseFactory('IVF64_HNSW32,SQ8').structure).toEqual({ kind: 'ivf', nlist: 64, quantizerM: 32 });
    expect(parseFactory('HNSW32')).toMatchObject({ structure: { kind: 'hnsw', m: 32 }, encoding: { kind: 'flat' } });
    expect(parseFactory('HNSW32,Flat').structure).toEqual({ kind: 'hnsw', m: 32 });
    expect(parseFactory('PQ8x4').encoding).toEqual({ kind: 'pq', m: 8, nbits: 4 });
    expect(parseFactory('OPQ16_64,PCAR32,L2norm,IVF8,Flat').transforms).toEqual([
      { kind: 'opq', m: 16, dOut: 64 },
      { kind: 'pca', dOut: 32 },
      { kind: 'l2norm' },
    ]);
  });

  it('refuses the strings that crash or hang FAISS 1.7.3, naming the part', () => {
    expect(refused('IVF0,Flat')).toBe('invalid FAISS factory string "IVF0,Flat": IVF lists must be an integer from 1 to 2147483647, not 0');
    expect(refused('HNSW0')).toMatch(/"HNSW0": HNSW links per node must be an integer from 2 to 256, not 0$/);
    expect(refused('HNSW1')).toMatch(/from 2 to 256, not 1/);
    expect(refused('IVF4_HNSW1,Flat')).toMatch(/from 2 to 256, not 1/);
    expect(refused('PQ0')).toMatch(/PQ sub-quantizers must be an integer from 1/);
    expect(refused('PQ4x0')).toMatch(/PQ bits per code must be an integer from 1 to 16, not 0/);
    expect(refused('IVF4,PQ4x12')).toMatch(/from 1 to 8, not 12/);
    expect(refused('PCA0,Flat')).toMatch(/PCA output dimension must be an integer from 1/);
    expect(refused('OPQ4_0,IVF4,PQ4')).toMatch(/OPQ output dimension/);
    expect(refused('IVF99999999999,Flat')).toMatch(/IVF lists must be an integer from 1 to 2147483647, not 99999999999/);
  });

  it('refuses what it cannot read, with the supported forms', () => {
    expect(refused('bogus')).toMatch(/cannot read "bogus" \(supported: Flat, /);
    expect(refused('IVF4, Flat')).toMatch(/cannot read " Flat", which has spaces/);
    expect(refused('ivf4,flat')).toMatch(/cannot read "ivf4"/);
    expect(refused('IVF4')).toMatch(/IVF4 needs one encoding after it/);
    expect(refused('HNSW8,PQ4')).toMatch(/HNSW8 takes Flat or SQ storage, not "PQ4"/);
    expect(refused('')).toMatch(/empty/);
  });

  it('checks the dimension and the vector count an index gets', () => {
    expect(factoryMisfit(parseFactory('IVF16,PQ8np'), 64, 1000)).toBeNull();
    expect(factoryMisfit(parseFactory('IVF16,PQ5'), 64, 1000)).toBe('PQ5 needs a dimension that is a multiple of 5, not 64');
    expect(factoryMisfit(parseFactory('OPQ4_8,IVF4,PQ4'), 17, 1000)).toBeNull();
    expect(factoryMisfit(parseFactory('OPQ3,IVF4,Flat'), 16, 1000)).toBe('OPQ3 needs a dimension that is a multiple of 3, not 16');
    expect(factoryMisfit(parseFactory('PCA32,Flat'), 16, 1000)).toBe('PCA cannot make 16-dimensional vectors 32-dimensional');
    expect(factoryMisfit(parseFactory('PCA8,PQ3'), 16, 1000)).toBe('PQ3 needs a dimension that is a multiple of 3, not 8');
    expect(factoryMisfit(parseFactory('IVF1001,Flat'), 8, 1000)).toMatch(/IVF1001 has 1001 lists but only 1000 vectors to index/);
  });
});
