import { describe, expect, it } from 'vitest';
import { findCycles, layeringViolations, moduleSpecifiers, readImportGraph, type ImportGraph } from './import-graph.js';

const SRC = new URL('../../src', import.meta.url).pathname;

/**
 * The layers of src, lowest first: a module imports only from its own layer and those below it,
 * never from a layer beside it in the same group. A layer is a folder under src, or a file where
 * one sits lower than its folder: models/model.ts, the interface every model implements (with
 * models/params.ts, how its factory declares hyper-parameters), is what the evaluator programs
 * against, while the models themselves use the evaluator's metrics.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['util'],
  ['matrix', 'sampling', 'onnx', 'artifacts', 'tracking', 'wasm', 'events'],
  ['data', 'index', 'experiments'],
  ['models/params.ts'],
  ['models/model.ts'],
  ['eval'],
  ['split'],
  ['models'],
  ['rank', 'explore'],
  ['ope'],
  ['serve'],
  ['pipeline'],
  ['simulate'],
  ['cli', 'lib.ts'],
];

/** Per layer, the layers below it. */
function allowedImports(layers: readonly (readonly string[])[]): Record<string, string[]> {
  return Object.fromEntries(layers.flatMap((group, i) => group.map((layer) => [layer, layers.slice(0, i).flat()])));
}

const graph = (edges: Record<string, string[]>): ImportGraph => new Map(Object.entries(edges));

describe('the import checks themselves', () => {
  it('find a cycle, a self-import and a cycle behind an entry point; not a diamond', () => {
    expect(findCycles(graph({ 'a.ts': ['b.ts', 'c.ts'], 'b.ts': ['d.ts'], 'c.ts': ['d.ts'], 'd.ts': [] }))).toEqual([]);
    expect(findCycles(graph({ 'x.ts': ['x.ts'] }))).toEqual([['x.ts', 'x.ts']]);
    const cycles = findCycles(
      graph({ 'main.ts': ['p/b.ts'], 'p/b.ts': ['p/c.ts'], 'p/c.ts': ['p/a.ts', 'leaf.ts'], 'p/a.ts': ['p/b.ts'], 'leaf.ts': [] }),
    );
    expect(cycles).toEqual([['p/a.ts', 'p/b.ts', 'p/c.ts', 'p/a.ts']]);
  });

  it('read every kind of import: static, type-only, re-export and dynamic', () => {
    const source = [
      "import { a } from './a.js';",
      "import type { B } from '../b.js';",
      "export { c } from './c.js';",
      "export * from './d.js';",
      'const e = async () => await import(`./e.js`);',
      "import { readFileSync } from 'node:fs';",
    ].join('\n');
    expect(moduleSpecifiers('x.ts', source)).toEqual(['./a.js', '../b.js', './c.js', './d.js', './e.js', 'node:fs']);
  });

  it('flag an import of a higher layer, of a sibling, and of a layer not listed; a file layer sits apart from its folder', () => {
    const allowed = allowedImports([['util'], ['core/api.ts'], ['core', 'io'], ['app']]);
    const edges = graph({
      'util/x.ts': ['app/main.ts'],
      'core/impl.ts': ['core/api.ts', 'io/file.ts', 'util/x.ts'],
      'core/api.ts': ['core/impl.ts'],
      'io/file.ts': ['core/api.ts'],
      'app/main.ts': ['core/impl.ts', 'extra/y.ts'],
    });
    expect(layeringViolations(edges, allowed)).toEqual([
      'app/main.ts → extra/y.ts ("app" may not import "extra")',
      'core/api.ts → core/impl.ts ("core/api.ts" may not import "core")',
      'core/impl.ts → io/file.ts ("core" may not import "io")',
      'util/x.ts → app/main.ts ("util" may not import "app")',
    ]);
  });
});

describe('src imports', () => {
  const imports = readImportGraph(SRC);

  it('read the whole tree', () => {
    expect(imports.size).toBeGreaterThan(100);
    expect(imports.get('cli/bin.ts')).toContain('cli/main.ts');
  });

  it('form no cycle', () => {
    const cycles = findCycles(imports).map((c) => c.join(' → '));
    expect(cycles, `import cycles:\n${cycles.join('\n')}`).toEqual([]);
  });

  it('point downward through the layers', () => {
    const layered = new Set(LAYERS.flat());
    const unlisted = [...imports.keys()].filter((f) => !layered.has(f) && !layered.has(f.split('/')[0]));
    expect(unlisted, 'files in no layer').toEqual([]);
    expect(layeringViolations(imports, allowedImports(LAYERS))).toEqual([]);
  });

  it('keep the GBDT engine interface a leaf and the ranker out of the model registry', () => {
    expect(imports.get('rank/gbdt/engine.ts')).toEqual([]);
    const rank = [...imports].filter(([file]) => file.startsWith('rank/'));
    expect(rank.filter(([, targets]) => targets.some((t) => t.endsWith('registry.ts'))).map(([file]) => file)).toEqual([]);
  });
});
