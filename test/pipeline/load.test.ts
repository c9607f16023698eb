import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPipeline } from '../../src/pipeline/load.js';
import { InputError } from '../../src/util/errors.js';
import { ML_SMALL, tempDir } from '../helpers.js';

const REPO = new URL('../../', import.meta.url).pathname;

const GOOD = `name: t
data:
  format: movielens
  in: ${ML_SMALL}
  out: /tmp/x
splits:
  tu: {strategy: temporal-user, frac: 0.8}
steps:
  - kind: import
  - kind: split
  - kind: train
    model: als
    params: {factors: 8}
  - kind: eval
`;

function write(text: string): string {
  const file = join(tempDir(), 'p.yaml');
  writeFileSync(file, text);
  return file;
}

/** The InputError message loading `text` gives, with the file shown as p.yaml. */
function problems(text: string): string {
  const file = write(text);
  try {
    loadPipeline(file);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message.replaceAll(file, 'p.yaml');
  }
  throw new Error('expected the file to be rejected');
}

describe('pipeline files', () => {
  it('the shipped pipelines validate, with their defaults filled in', () => {
    const p = loadPipeline(join(REPO, 'pipelines/movielens.yaml'));
    expect(p.head.name).toBe('movielens');
    expect(p.head.splits['temporal-user']).toEqual({ strategy: 'temporal-user', frac: 0.8 });
    expect(p.steps.map((s) => s.kind)).toEqual([
      'import',
      'split',
      'train',
      'train',
      'train',
      'index',
      'index',
      'train',
      'eval',
      'recommend',
    ]);
    expect(loadPipeline(join(REPO, 'pipelines/nightly.yaml')).head.name).toBe('nightly');
    const bench = loadPipeline(join(REPO, 'pipelines/bench-serve-25m.yaml'));
    expect(bench.steps.map((s) => s.kind)).toEqual(['split', 'train', 'index', 'train', 'recommend']);
  });

  it('plans one artifact per (model, split) and an eval of every model trained on each split', () => {
    const p = loadPipeline(
      write(
        GOOD.replace('tu: {strategy: temporal-user, frac: 0.8}', 'tu: {strategy: temporal-user}\n  t: {strategy: temporal, frac: 0.7}'),
      ),
    );
    const units = p.steps.flatMap((s) => s.plan());
    expect(units.map((u) => `${u.label} -> ${u.output}`)).toEqual([
      'import -> /tmp/x',
      'split tu -> split-tu',
      'split t -> split-t',
      'train als-tu -> als-tu',
      'train als-t -> als-t',
      'eval tu -> eval-tu',
      'eval t -> eval-t',
    ]);
    expect(units[3].config).toMatchObject({ model: 'als', params: { factors: 8, iterations: 15 }, seed: 42, k: [10], split: 'tu' });
    expect(units[5].config).toEqual({ split: 'tu', models: ['als'], k: [10] });
    expect(p.head.splits.t).toEqual({ strategy: 'temporal', frac: 0.7 });
    expect(p.head.artifacts).toBe('artifacts');
  });

  it('names the file, line, column and path of an unknown key, with the likely typo and the keys expected', () => {
    expect(problems(GOOD.replace('name: t', 'name: t\nartefacts: a'))).toBe(
      'invalid pipeline file (1 problem):\n  p.yaml:2:1: artefacts: unknown key "artefacts" (did you mean "artifacts"?); expected one of: name, artifacts, seed, k, data, splits, steps, gates, monitoring',
    );
    expect(problems(GOOD.replace('params: {factors: 8}', 'params: {factros: 8}'))).toContain(
      'p.yaml:13:14: steps[2].params.factros: als: unknown key "factros" (did you mean "factors"?); expected one of: factors, regularization,',
    );
  });

  it('checks the monitoring key: an http(s) Pushgateway URL and a job name; by default none and job recsys_pipeline', () => {
    expect(loadPipeline(write(GOOD)).head.monitoring).toEqual({ job: 'recsys_pipeline' });
    expect(problems(`${GOOD}monitoring: {pushgateway: ftp://pg:9091, job: "a b"}\n`)).toBe(
      [
        'invalid pipeline file (2 problems):',
        '  p.yaml:15:14: monitoring.pushgateway: expected an http:// or https:// URL',
        '  p.yaml:15:42: monitoring.job: expected a name of letters, digits, "_", "-" and "." (starting with a letter or digit)',
      ].join('\n'),
    );
  });

  it('names wrong types, bad values, missing keys and unknown step kinds', () => {
    expect(problems(GOOD.replace('  out: /tmp/x', '  ut: /tmp/x').replace('frac: 0.8', 'frac: "0.8"')).split('\n').slice(1)).toEqual([
      '  p.yaml:2:1: data.out: required, missing',
      '  p.yaml:5:3: data.ut: unknown key "ut" (did you mean "out"?); expected one of: format, in, out, columns, delimiter, encoding, timestamp_unit, skip_bad, events',
      '  p.yaml:7:33: splits.tu.frac: Expected number, received string',
    ]);
    expect(
      problems(
        GOOD.replace('params: {factors: 8}', 'params: {factors: "8", weight: sometimes}').replace('- kind: eval', '- kind: evaluate'),
      )
        .split('\n')
        .slice(1),
    ).toEqual([
      '  p.yaml:13:14: steps[2].params.factors: als: expected an integer in [1, 1024], got "8"',
      '  p.yaml:13:28: steps[2].params.weight: als: expected one of one, count, rating, got "sometimes"',
      '  p.yaml:14:5: steps[3].kind: unknown step kind "evaluate"; expected one of: import, split, train, index, eval, recommend, publish',
    ]);
  });

  it("checks each model parameter against the model's schema: range, and snake_case keys only", () => {
    expect(problems(GOOD.replace('params: {factors: 8}', 'params: {factors: -4, regularization: -1}'))).toBe(
      'invalid pipeline file (2 problems):\n' +
        '  p.yaml:13:14: steps[2].params.factors: als: expected an integer in [1, 1024], got -4\n' +
        '  p.yaml:13:27: steps[2].params.regularization: als: expected a number ≥ 0, got -1',
    );
    expect(problems(GOOD.replace('params: {factors: 8}', 'params: {cgSteps: 8}'))).toContain(
      'p.yaml:13:14: steps[2].params.cgSteps: als: unknown key "cgSteps" (did you mean "cg_steps"?)',
    );
    const twoTower = GOOD.replace('model: als', 'model: two-tower').replace('params: {factors: 8}', 'params: {valFrac: 0, lr: 0}');
    expect(problems(twoTower).split('\n').slice(1)).toEqual([
      '  p.yaml:13:14: steps[2].params.valFrac: two-tower: unknown key "valFrac" (did you mean "val_frac"?); expected one of: dim, hidden, history, epochs, batch_size, lr, temperature, logq, negatives, negative_sampling, id_dropout, val_frac, patience, val_k, val_users, tag_vocab, year_buckets, threads, backend',
      '  p.yaml:13:26: steps[2].params.lr: two-tower: expected a number in (0, 1], got 0',
    ]);
    // Names only the assembled ranker knows: its channels.
    const ranker = GOOD.replace('model: als', 'model: ranker').replace('params: {factors: 8}', 'params: {channels: "als,bogus"}');
    expect(problems(ranker).split('\n').slice(1)).toEqual([
      '  p.yaml:13:14: steps[2].params.channels: ranker: unknown channel "bogus" (known: popularity, cooc, als, two-tower)',
    ]);
  });

  it('reports missing inputs: a data.in that does not exist, an unknown model, a split no step makes', () => {
    const message = problems(GOOD.replace(ML_SMALL, '/nowhere/ml').replace('  - kind: split\n', '').replace('model: als', 'model: alss'));
    expect(message).toContain('p.yaml:4:3: data.in: /nowhere/ml: no such file or directory');
    expect(message).toMatch(/p\.yaml:11:5: steps\[1\]\.model: unknown model "alss" \(registered: popularity, als\b/);
    expect(problems(GOOD.replace('  - kind: split\n', ''))).toBe(
      'invalid pipeline file (1 problem):\n  p.yaml:10:5: steps[1]: split "tu" is made by no split step before this one (add `- kind: split` before it)',
    );
  });

  it('checks gates: metric names, bounds, evaluated cut-offs, split and model names', () => {
    expect(
      problems(`${GOOD}gates:\n  - fail_under: {ndgc@10: 0.1}\n    max_drop: {ndcg@10: 0.02, recall@10: 2}\n`).split('\n').slice(1),
    ).toEqual([
      '  p.yaml:16:18: gates[0].fail_under["ndgc@10"]: expected METRIC@K with METRIC one of ndcg, recall, precision, map, mrr, hit_rate, coverage, diversity, novelty, arp, aplt',
      '  p.yaml:17:31: gates[0].max_drop["recall@10"]: Number must be less than or equal to 1',
    ]);
    expect(problems(`${GOOD}gates:\n  - split: tx\n    model: pop\n    max_drop: {ndcg@20: 0.02}\n`).split('\n').slice(1)).toEqual([
      '  p.yaml:16:5: gates[0].split: unknown split "tx" (the file\'s splits: tu)',
      '  p.yaml:17:5: gates[0].model: no train step is named "pop" (models: als)',
      '  p.yaml:18:16: gates[0].max_drop["ndcg@20"]: cut-off @20 is not evaluated (k: 10)',
    ]);
  });

  it('reads ${VAR} and ${VAR:-default} from the environment', () => {
    const file = write(GOOD.replace(ML_SMALL, '${H7_ML:-/nowhere}').replace('out: /tmp/x', 'out: ${H7_OUT}'));
    process.env.H7_ML = ML_SMALL;
    process.env.H7_OUT = '/tmp/y';
    try {
      expect(loadPipeline(file).head.data).toMatchObject({ in: ML_SMALL, out: '/tmp/y' });
      delete process.env.H7_OUT;
      expect(() => loadPipeline(file)).toThrow('p.yaml:5:3: data.out: environment variable H7_OUT is not set');
    } finally {
      delete process.env.H7_ML;
      delete process.env.H7_OUT;
    }
  });

  it('reports a YAML syntax error with its line', () => {
    expect(problems('name: t\nsteps: [\n')).toBe(
      'invalid YAML: p.yaml:3:1: Flow sequence in block collection must be sufficiently indented and end with a ]',
    );
  });
});
