import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ForestModel, NODE_CATEGORICAL } from '../../src/rank/gbdt/forest.js';
import { loadGbdtModel, parseGbdtModel } from '../../src/rank/gbdt/load.js';
import { GbdtScoringPool, ThreadedGbdtModel } from '../../src/rank/gbdt/scoring-pool.js';
import { float32Below } from '../../src/rank/gbdt/xgboost-model.js';
import { InputError } from '../../src/util/errors.js';
import { LIGHTGBM_FIXTURES as FIXTURES, readLightgbmTsv, readNumbers } from './gbdt-helpers.js';

describe('LightGBM text model, against the LightGBM CLI predictions in the fixtures', () => {
  const valid = readLightgbmTsv(join(FIXTURES, 'valid.tsv'));

  it.each([
    ['model.txt', 'valid.pred.txt'],
    ['model_cat.txt', 'valid_cat.pred.txt'],
  ])('%s reproduces %s to 1e-9 relative', (modelFile, predFile) => {
    const model = loadGbdtModel(join(FIXTURES, modelFile));
    expect(model.engine).toBe('lightgbm');
    expect(model.objective).toBe('lambdarank');
    expect(model.nTrees).toBe(50);
    expect(model.nFeatures).toBe(12);
    const expected = readNumbers(join(FIXTURES, predFile));
    expect(expected.length).toBe(valid.nRows);
    const got = model.predict(valid.features, valid.nRows, valid.nFeatures);
    for (let i = 0; i < valid.nRows; i++) {
      expect(Math.abs(got[i] - expected[i])).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected[i])));
    }
    // The data really exercises missing values (features 0, 4 and 7).
    expect(valid.features.some((v) => Number.isNaN(v))).toBe(true);
  });

  it('reads every categorical split of model_cat.txt', () => {
    // The file's feature_importances count 77 splits on Column_11, the categorical feature,
    // spread over 48 trees (the README's "48 categorical splits").
    const model = loadGbdtModel(join(FIXTURES, 'model_cat.txt')) as ForestModel;
    const { kind, feature, nInternal } = model.forest;
    const categorical = [...kind.subarray(0, nInternal).keys()].filter((n) => kind[n] === NODE_CATEGORICAL);
    expect(categorical.length).toBe(77);
    expect(categorical.every((n) => feature[n] === 11)).toBe(true);
  });

  it('saves the model text unchanged', () => {
    const model = loadGbdtModel(join(FIXTURES, 'model.txt'));
    const out = join(mkdtempSync(join(tmpdir(), 'gbdt-test-')), 'copy.txt');
    model.save(out);
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(join(FIXTURES, 'model.txt'), 'utf8'));
  });
});

/**
 * Two hand-made LightGBM trees whose every path can be followed by hand.
 * Tree 0: node 0 is categorical on f0 (decision_type 1), bit set 5 = categories {0, 2} → leaf 10,
 * else node 1: f1 with threshold 0.5, decision_type 6 = missing type Zero + default left, so
 * 0, ±1e-36 and NaN go left (20); v <= 0.5 left (20); else right (30).
 * Tree 1: f2 <= -1 → 100 else 200, missing type None (decision_type 0): NaN is read as 0 → 200.
 */
const HAND_LIGHTGBM = `tree
version=v4
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=2
objective=lambdarank

Tree=0
num_leaves=3
num_cat=1
split_feature=0 1
threshold=0 0.5
decision_type=1 6
left_child=-1 -2
right_child=1 -3
leaf_value=10 20 30
cat_boundaries=0 1
cat_threshold=5
is_linear=0
shrinkage=1

Tree=1
num_leaves=2
num_cat=0
split_feature=2
threshold=-1
decision_type=0
left_child=-1
right_child=-2
leaf_value=100 200
is_linear=0
shrinkage=1


end of trees
`;

describe('LightGBM decision rules (hand-made model)', () => {
  const model = parseGbdtModel(HAND_LIGHTGBM, 'hand.txt');
  const cases: Array<[string, [number, number, number], number]> = [
    ['category 0 is in the set', [0, 0.7, -2], 110],
    ['-0.5 truncates to category 0', [-0.5, 0.7, -2], 110],
    ['2.9 truncates to category 2', [2.9, 0.7, -2], 110],
    ['category 1 is not in the set; 0.7 > 0.5', [1, 0.7, -2], 130],
    ['a NaN category goes right', [NaN, 0.7, -2], 130],
    ['a negative category goes right', [-1, 0.7, -2], 130],
    ['a category beyond the bit set goes right', [40, 0.7, -2], 130],
    ['a category beyond int32 goes right', [3e9, 0.7, -2], 130],
    ['zero-as-missing: 1e-36 takes the default (left)', [1, 1e-36, -2], 120],
    ['zero-as-missing: NaN takes the default (left)', [1, NaN, -2], 120],
    ['v equal to the threshold goes left (<=)', [1, 0.5, -2], 120],
    ['missing type None reads NaN as 0: 0 > -1 goes right', [1, 0.7, NaN], 230],
    ['-1 <= -1 goes left', [1, 0.7, -1], 130],
  ];
  it.each(cases)('%s', (_, row, expected) => {
    expect(Array.from(model.predict(Float64Array.from(row), 1, 3))).toEqual([expected]);
  });

  it('scores many rows at once like one at a time', () => {
    const rows = Float64Array.from(cases.flatMap(([, row]) => row));
    expect(Array.from(model.predict(rows, cases.length, 3))).toEqual(cases.map(([, , e]) => e));
  });

  it('divides by the number of iterations with average_output', () => {
    const averaged = parseGbdtModel(HAND_LIGHTGBM.replace('objective=lambdarank\n', 'objective=lambdarank\naverage_output\n'), 'avg.txt');
    expect(Array.from(averaged.predict(Float64Array.from([0, 0.7, -2]), 1, 3))).toEqual([55]);
  });

  it('rejects malformed or unsupported models with the file and line', () => {
    expect(() => parseGbdtModel(HAND_LIGHTGBM.replace('end of trees\n', ''), 'cut.txt')).toThrow(/cut.txt: truncated LightGBM model/);
    expect(() => parseGbdtModel(HAND_LIGHTGBM.replace('leaf_value=10 20 30', 'leaf_value=10 20'), 'short.txt')).toThrow(
      /short.txt: line 17: Tree=0: "leaf_value" has 2 values, expected 3/,
    );
    expect(() => parseGbdtModel(HAND_LIGHTGBM.replace('threshold=0 0.5', 'threshold=0 x'), 'bad.txt')).toThrow(
      /line 13.*"threshold" value 1 \("x"\)/,
    );
    expect(() => parseGbdtModel(HAND_LIGHTGBM.replace('num_tree_per_iteration=1', 'num_tree_per_iteration=3'), 'mc.txt')).toThrow(
      /multiclass/,
    );
    expect(() => parseGbdtModel(HAND_LIGHTGBM.replace('is_linear=0', 'is_linear=1'), 'lin.txt')).toThrow(/linear trees/);
  });
});

/**
 * A hand-made XGBoost JSON model: base_score 0.5; one tree: f0 < 0.1 (float32) → 1.5, else
 * (and missing, default right) → -2.25; a second tree that is a single leaf 0.25.
 */
function handXgboost(defaultLeft: number): string {
  return JSON.stringify({
    learner: {
      learner_model_param: { base_score: '5E-1', num_feature: '1', num_class: '0' },
      objective: { name: 'rank:ndcg' },
      gradient_booster: {
        name: 'gbtree',
        model: {
          tree_info: [0, 0],
          trees: [
            {
              left_children: [1, -1, -1],
              right_children: [2, -1, -1],
              split_indices: [0, 0, 0],
              split_conditions: [0.1, 1.5, -2.25],
              default_left: [defaultLeft, 0, 0],
              split_type: [0, 0, 0],
            },
            { left_children: [-1], right_children: [-1], split_indices: [0], split_conditions: [0.25], default_left: [0], split_type: [0] },
          ],
        },
      },
    },
    version: [1, 7, 4],
  });
}

describe('XGBoost decision rules (hand-made model)', () => {
  const model = parseGbdtModel(handXgboost(0), 'hand.json');
  const t = Math.fround(0.1);

  it('sends v < threshold left, v == threshold right, comparing float32 values', () => {
    const rows = Float64Array.from([0.05, t, 0.1, float32Below(t), 0.2]);
    // 0.1 as a double is below float32(0.1), but XGBoost reads it as float32(0.1): right.
    expect(Array.from(model.predict(rows, 5, 1))).toEqual([2.25, -1.5, -1.5, 2.25, -1.5]);
    expect(Array.from(model.predict(Float32Array.from(rows), 5, 1))).toEqual([2.25, -1.5, -1.5, 2.25, -1.5]);
  });

  it('sends missing values the default way', () => {
    expect(Array.from(model.predict(Float64Array.from([NaN]), 1, 1))).toEqual([-1.5]);
    const left = parseGbdtModel(handXgboost(1), 'left.json');
    expect(Array.from(left.predict(Float64Array.from([NaN]), 1, 1))).toEqual([2.25]);
  });

  it('rejects what it cannot score', () => {
    const dart = handXgboost(0).replace('"name":"gbtree"', '"name":"dart"');
    expect(() => parseGbdtModel(dart, 'dart.json')).toThrow(/dart.json: booster "dart" is not supported/);
    expect(() => parseGbdtModel(handXgboost(0).replace('"tree_info":[0,0]', '"tree_info":[0,1]'), 'mc.json')).toThrow(/multi-output/);
    expect(() => parseGbdtModel(handXgboost(0).replace('rank:ndcg', 'reg:tweedie'), 'tw.json')).toThrow(/objective "reg:tweedie"/);
    expect(() => parseGbdtModel(handXgboost(0).replace('"split_type":[0,0,0]', '"split_type":[1,0,0]'), 'cat.json')).toThrow(/categorical/);
    expect(() => parseGbdtModel('{"learner": {}}', 'empty.json')).toThrow(
      /empty.json: not an XGBoost JSON model: field learner.learner_model_param/,
    );
  });
});

describe('model files', () => {
  it('names the file when the format is unknown or the file is missing', () => {
    expect(() => parseGbdtModel('binf\u0000\u0001', 'model.bin')).toThrow(InputError);
    expect(() => parseGbdtModel('binf\u0000\u0001', 'model.bin')).toThrow(/model.bin: neither a LightGBM text model/);
    expect(() => loadGbdtModel('/nonexistent/model.json')).toThrow(/\/nonexistent\/model.json: cannot read model file \(ENOENT\)/);
  });

  it('checks the shape of the rows to score', () => {
    const model = parseGbdtModel(HAND_LIGHTGBM, 'hand.txt');
    expect(() => model.predict(new Float64Array(5), 2, 3)).toThrow(/5 values, not 2 rows × 3 features/);
    expect(() => model.predict(new Float64Array(4), 2, 2)).toThrow(/reads 3 features; rows have only 2/);
  });
});

describe('scoring pool (worker threads)', () => {
  /** `n` rows cycling through the rows of `x`. */
  function repeatRows(x: Float64Array, nFeatures: number, n: number): Float64Array {
    const rows = x.length / nFeatures;
    const out = new Float64Array(n * nFeatures);
    for (let r = 0; r < n; r++) out.set(x.subarray((r % rows) * nFeatures, ((r % rows) + 1) * nFeatures), r * nFeatures);
    return out;
  }

  it.each(['model.txt', 'model_cat.txt'])(
    'gives exactly model.predict for %s on 3 threads, awaited and blocking (predictSync)',
    async (file) => {
      const model = loadGbdtModel(join(FIXTURES, file));
      const valid = readLightgbmTsv(join(FIXTURES, 'valid.tsv'));
      const x = repeatRows(valid.features, valid.nFeatures, 10_001);
      const pool = GbdtScoringPool.open(model, 3);
      try {
        const expected = Array.from(model.predict(x, 10_001, valid.nFeatures));
        expect(Array.from(await pool.predict(x, 10_001, valid.nFeatures))).toEqual(expected);
        // One batch after another, in the kept shared memory: smaller, larger (it grows), smaller, float32.
        for (const n of [9000, 10_001, 4000]) {
          expect(Array.from(pool.predictSync(x.subarray(0, n * valid.nFeatures), n, valid.nFeatures))).toEqual(expected.slice(0, n));
        }
        const x32 = Float32Array.from(x);
        expect(Array.from(pool.predictSync(x32, 10_001, valid.nFeatures))).toEqual(Array.from(model.predict(x32, 10_001, valid.nFeatures)));
      } finally {
        await pool.close();
      }
    },
  );

  it('ThreadedGbdtModel scores like the model it wraps, small batches and large (float32 rows, as the funnel gives)', async () => {
    const model = loadGbdtModel(join(FIXTURES, 'model.txt'));
    const valid = readLightgbmTsv(join(FIXTURES, 'valid.tsv'));
    const threaded = new ThreadedGbdtModel(model, 2);
    try {
      expect([threaded.engine, threaded.objective, threaded.nFeatures, threaded.nTrees]).toEqual(['lightgbm', 'lambdarank', 12, 50]);
      expect(threaded.text).toBe(model.text);
      for (const n of [10, 5000]) {
        const x = Float32Array.from(repeatRows(valid.features, valid.nFeatures, n));
        expect(Array.from(threaded.predict(x, n, valid.nFeatures))).toEqual(Array.from(model.predict(x, n, valid.nFeatures)));
      }
      expect(() => threaded.predict(new Float32Array(5000 * 3), 5000, 3)).toThrow(/reads 12 features; rows have only 3/);
    } finally {
      await threaded.close();
    }
  });

  it('applies average_output and float32 rounding in the workers too', async () => {
    const averaged = parseGbdtModel(HAND_LIGHTGBM.replace('objective=lambdarank\n', 'objective=lambdarank\naverage_output\n'), 'avg.txt');
    const xgb = parseGbdtModel(handXgboost(0), 'hand.json');
    const lgbRows = repeatRows(Float64Array.from([0, 0.7, -2, 1, 0.7, NaN]), 3, 5000);
    const xgbRows = repeatRows(Float64Array.from([0.1, 0.05, NaN]), 1, 5000);
    for (const [model, x, nFeatures] of [
      [averaged, lgbRows, 3],
      [xgb, xgbRows, 1],
    ] as const) {
      const pool = GbdtScoringPool.open(model, 2);
      const scores = await pool.predict(x, 5000, nFeatures);
      const blocking = pool.predictSync(x, 5000, nFeatures);
      await pool.close();
      expect(Array.from(scores)).toEqual(Array.from(model.predict(x, 5000, nFeatures)));
      expect(Array.from(blocking)).toEqual(Array.from(scores));
    }
  });
});
