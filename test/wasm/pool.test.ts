import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ALS_KERNELS } from '../../src/models/als/kernels.js';
import { WasmArena } from '../../src/wasm/arena.js';
import { KernelPool } from '../../src/wasm/pool.js';

const DIST = new URL('../../dist/', import.meta.url).pathname;

describe('kernel pool', () => {
  it('runs a job on every thread and gives each chunk its own result, in chunk order', () => {
    // gramRows returns 0 per chunk; what is checked here is that 3 threads finish 64 chunks.
    const arena = new WasmArena<'rows' | 'partials' | 'scratch'>('pool test', {
      rows: 64 * 16 * 4,
      partials: 64 * 16 * 16 * 4,
      scratch: 3 * 64,
    });
    arena.f32('rows', 64 * 16).fill(1);
    const pool = new KernelPool(ALS_KERNELS, arena.memory, 3, arena.at.scratch, 64);
    const bounds = Int32Array.from({ length: 65 }, (_, i) => i);
    expect(pool.run('gramRows', bounds, [arena.at.rows, 16, arena.at.partials]).length).toBe(64);
    // Chunk c holds the Gram block of row c alone: all ones, 16 × 16.
    expect(arena.f32('partials', 64 * 256).every((x) => x === 1)).toBe(true);
    pool.close();
  });

  it('starts its workers in a process run as `node --input-type=module -e` (they once died there and the first job hung)', () => {
    const script = `
      const { WasmArena } = await import('${DIST}wasm/arena.js');
      const { KernelPool } = await import('${DIST}wasm/pool.js');
      const { ALS_KERNELS } = await import('${DIST}models/als/kernels.js');
      const arena = new WasmArena('x', { rows: 4096, partials: 65536, scratch: 256 });
      const pool = new KernelPool(ALS_KERNELS, arena.memory, 2, arena.at.scratch, 64);
      const n = pool.run('gramRows', Int32Array.of(0, 2, 4), [arena.at.rows, 16, arena.at.partials]).length;
      pool.close();
      console.log('chunks', n);`;
    const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(res.signal, res.stderr).toBeNull();
    expect(res.stdout.trim()).toBe('chunks 2');
  });
});
