import { execFileSync, spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { splitLogBatch } from '../../src/tracking/batching.js';
import { flattenParams, type LogBatchBody } from '../../src/tracking/entities.js';
import { FileStoreTracker } from '../../src/tracking/file-store.js';
import { createTracker } from '../../src/tracking/index.js';
import { validKey } from '../../src/tracking/limits.js';
import { formatPythonFloat } from '../../src/tracking/python-float.js';
import { RestTracker } from '../../src/tracking/rest-tracker.js';
import { InputError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';

const PYTHON = '/usr/bin/python3';
const hasPython = spawnSync(PYTHON, ['-c', 'pass']).status === 0;

function python(script: string, input: unknown): unknown {
  return JSON.parse(execFileSync(PYTHON, ['-c', script], { input: JSON.stringify(input) }).toString());
}

describe('formatPythonFloat', () => {
  it('writes the values of a few hand-checked cases as Python repr does', () => {
    expect(formatPythonFloat(0.5)).toBe('0.5');
    expect(formatPythonFloat(100)).toBe('100.0');
    expect(formatPythonFloat(1e16)).toBe('1e+16');
    expect(formatPythonFloat(1e15)).toBe('1000000000000000.0');
    expect(formatPythonFloat(0.0001)).toBe('0.0001');
    expect(formatPythonFloat(0.00001)).toBe('1e-05');
    expect(formatPythonFloat(-1.5e-300)).toBe('-1.5e-300');
    expect(formatPythonFloat(-0)).toBe('-0.0');
    expect(formatPythonFloat(Number.NaN)).toBe('nan');
    expect(formatPythonFloat(-Infinity)).toBe('-inf');
  });

  it.skipIf(!hasPython)('agrees with repr() of /usr/bin/python3 on 2000 doubles of every magnitude', () => {
    const rng = new Rng(42);
    const values: number[] = [0, 1, -1, 0.1, 1 / 3, 2 ** 53, 2 ** 53 + 2, Number.MAX_VALUE, Number.MIN_VALUE, 5e-324, 123456789012345680];
    for (let i = 0; i < 2000; i++) {
      const magnitude = 10 ** (rng.int(64) - 32);
      const v = rng.next() < 0.2 ? Math.round(rng.normal() * magnitude) : rng.normal() * magnitude;
      values.push(v + 0); // JSON cannot carry -0 to Python (checked by hand above)
    }
    const reprs = python('import json,sys; print(json.dumps([repr(float(v)) for v in json.load(sys.stdin)]))', values) as string[];
    expect(values.map(formatPythonFloat)).toEqual(reprs);
  });
});

describe('validKey', () => {
  it('makes keys valid MLflow names', () => {
    expect(validKey('ndcg@10')).toBe('ndcg_10');
    expect(validKey('train/loss')).toBe('train/loss');
    expect(validKey('/a//b/./c/')).toBe('a/b/c');
    expect(validKey('../escape')).toBe('__/escape');
    expect(validKey('')).toBe('_');
    expect(validKey('größe é-1 x.y')).toBe('größe é-1 x.y');
    expect(Array.from(validKey('k'.repeat(300)))).toHaveLength(250);
  });

  it.skipIf(!hasPython)("gives names MLflow's own validation (validation.py) accepts", () => {
    const keys = ['ndcg@10', 'a:b', '/a//b/./c/', '../x', '..', '.', 'x/..', 'ok key', 'émoji 😀', 'tab\there', 'k'.repeat(300), 'p=q,r'];
    const script = [
      'import json, posixpath, re, sys',
      'NAME = re.compile(r"^[/\\w.\\- ]*$")',
      'def not_unique(n):',
      '    norm = posixpath.normpath(n)',
      '    return norm != n or norm == "." or norm.startswith("..") or norm.startswith("/")',
      'print(json.dumps([bool(NAME.match(k)) and not not_unique(k) and len(k) <= 250 for k in json.load(sys.stdin)]))',
    ].join('\n');
    expect(python(script, keys.map(validKey))).toEqual(keys.map(() => true));
    // And the raw keys that needed fixing are indeed refused by those rules.
    expect(python(script, ['ndcg@10', '../x', 'a//b'])).toEqual([false, false, false]);
  });
});

describe('splitLogBatch', () => {
  const flat = (parts: LogBatchBody[], kind: keyof LogBatchBody): unknown[] => parts.flatMap((p): unknown[] => p[kind]);

  it('keeps every request within 1000 metrics, 100 params, 100 tags and 1000 entities, in order', () => {
    const batch: LogBatchBody = {
      metrics: Array.from({ length: 1500 }, (_, i) => ({ key: 'loss', value: i, timestamp: i, step: i })),
      params: Array.from({ length: 150 }, (_, i) => ({ key: `p${i}`, value: String(i) })),
      tags: Array.from({ length: 150 }, (_, i) => ({ key: `t${i}`, value: String(i) })),
    };
    const parts = splitLogBatch(batch);
    for (const p of parts) {
      expect(p.metrics.length).toBeLessThanOrEqual(1000);
      expect(p.params.length).toBeLessThanOrEqual(100);
      expect(p.tags.length).toBeLessThanOrEqual(100);
      expect(p.metrics.length + p.params.length + p.tags.length).toBeLessThanOrEqual(1000);
    }
    expect(flat(parts, 'metrics')).toEqual(batch.metrics);
    expect(flat(parts, 'params')).toEqual(batch.params);
    expect(flat(parts, 'tags')).toEqual(batch.tags);
    // 1800 entities fit in 2 requests: 100 params + 100 tags + 800 metrics, then the rest.
    expect(parts).toHaveLength(2);
  });

  it('keeps every request under 1 MB of JSON', () => {
    const batch: LogBatchBody = {
      metrics: [],
      params: Array.from({ length: 100 }, (_, i) => ({ key: `p${i}`, value: 'v'.repeat(6000) })),
      tags: Array.from({ length: 100 }, (_, i) => ({ key: `t${i}`, value: 'é'.repeat(5000) })),
    };
    const parts = splitLogBatch(batch);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) {
      expect(Buffer.byteLength(JSON.stringify({ run_id: 'f'.repeat(32), ...p }))).toBeLessThanOrEqual(1_000_000);
    }
    expect(flat(parts, 'params')).toEqual(batch.params);
    expect(flat(parts, 'tags')).toEqual(batch.tags);
  });
});

describe('flattenParams', () => {
  it('flattens nested objects to dotted keys, writes arrays as JSON and leaves out null', () => {
    expect(flattenParams({ factors: 64, als: { reg: 0.01, cg: { steps: 3 } }, ks: [10, 20], note: null, on: false })).toEqual([
      ['factors', '64'],
      ['als.reg', '0.01'],
      ['als.cg.steps', '3'],
      ['ks', '[10,20]'],
      ['on', 'false'],
    ]);
  });
});

describe('createTracker', () => {
  it('picks the tracker from the tracking URI as MLflow reads it', () => {
    const root = '/tmp/artifacts';
    const none = createTracker({ root, uri: '' });
    expect(none).toBeInstanceOf(FileStoreTracker);
    expect(none.location).toBe(join(root, 'mlruns'));
    expect(createTracker({ root, uri: 'https://mlflow.example:5000/prefix' })).toBeInstanceOf(RestTracker);
    expect(createTracker({ root, uri: 'file:///srv/mlruns' }).location).toBe('/srv/mlruns');
    expect(createTracker({ root, uri: 'rel/mlruns' }).location).toBe(resolve('rel/mlruns'));
    expect(() => createTracker({ root, uri: 'sqlite:///mlflow.db' })).toThrow(InputError);
  });

  it('reads MLFLOW_TRACKING_URI when no URI is given', () => {
    const before = process.env.MLFLOW_TRACKING_URI;
    process.env.MLFLOW_TRACKING_URI = 'http://127.0.0.1:5000';
    try {
      const tracker = createTracker({ root: '/tmp/artifacts' });
      expect(tracker.kind).toBe('mlflow-rest');
      expect(tracker.location).toBe('http://127.0.0.1:5000');
    } finally {
      if (before === undefined) delete process.env.MLFLOW_TRACKING_URI;
      else process.env.MLFLOW_TRACKING_URI = before;
    }
  });
});
