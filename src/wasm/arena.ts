import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RecsysError } from '../util/errors.js';

/**
 * A WebAssembly kernel module built from asm/<name>.ts by scripts/setup.d/10-wasm.sh into
 * wasm/<name>.wasm, with the exported kernels a KernelPool may run (by index, see pool.ts).
 * Its user names the file with a literal `new URL('…/wasm/<name>.wasm', import.meta.url)`,
 * which resolves from src/ (tests) and dist/ (the CLI) alike and makes the kernels part of the
 * code identity of the steps that use them (src/util/code-identity.ts).
 */
export class KernelModule<K extends string> {
  private compiled: WebAssembly.Module | null = null;

  constructor(
    readonly name: string,
    private readonly url: URL,
    readonly kernels: readonly K[],
  ) {}

  get module(): WebAssembly.Module {
    if (this.compiled === null) {
      const path = fileURLToPath(this.url);
      if (!existsSync(path))
        throw new RecsysError(`${path} is missing: run scripts/setup.sh (make setup) to build the ${this.name} kernels`);
      this.compiled = new WebAssembly.Module(readFileSync(path));
    }
    return this.compiled;
  }

  instantiate(memory: WebAssembly.Memory): WebAssembly.Instance {
    return new WebAssembly.Instance(this.module, { env: { memory } });
  }
}

const PAGE = 65536;
/** wasm32 addresses at most 4 GiB. */
const MAX_PAGES = 65536;
/** The first page stays free for anything the AssemblyScript compiler places at low addresses. */
const RESERVED = PAGE;

function align16(n: number): number {
  return Math.ceil(n / 16) * 16;
}

/**
 * A fixed-size shared WebAssembly.Memory carved into named regions once, up front: a shared
 * memory cannot be detached, so typed-array views on it stay valid for its whole life.
 */
export class WasmArena<K extends string> {
  readonly memory: WebAssembly.Memory;
  /** Byte offset of each region, 16-byte aligned for v128 loads. */
  readonly at: Record<K, number>;

  /** @param label what the memory is for, named in the error when it does not fit */
  constructor(label: string, regionBytes: Record<K, number>) {
    const at = {} as Record<K, number>;
    let top = RESERVED;
    for (const name of Object.keys(regionBytes) as K[]) {
      at[name] = top;
      top += align16(regionBytes[name]);
    }
    const pages = Math.ceil(top / PAGE);
    if (pages > MAX_PAGES) {
      throw new RecsysError(
        `${label} needs ${(top / 2 ** 30).toFixed(2)} GiB of WebAssembly memory, more than the 4 GiB a wasm32 memory can address`,
      );
    }
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    this.at = at;
  }

  f32(region: K, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, this.at[region], length);
  }

  i32(region: K, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, this.at[region], length);
  }
}
