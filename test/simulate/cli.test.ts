import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSynthetic } from '../../src/data/synth.js';
import { readLogInto } from '../../src/events/log-reader.js';
import type { GroundTruth } from '../../src/simulate/ground-truth.js';
import { runSimulation } from '../../src/simulate/run.js';
import { oneErrorLine, runCli } from '../cli-runner.js';
import { tempDir } from '../helpers.js';
import { startServe } from '../serve/serve-process.js';

/** `recsys simulate` end to end: the fast path, the real server, and bad input. */
const SYNTH = { users: 400, items: 300, interactions: 16_000, seed: 4 };
let w = '';

function check(r: { code: number | null; stderr: string }): void {
  expect(r.code, r.stderr).toBe(0);
}

beforeAll(async () => {
  w = tempDir();
  const data = join(w, 'data');
  check(
    await runCli(['data', 'synth', '--users', '400', '--items', '300', '--interactions', '16000', '--seed', '4', '--out', data], {
      env: { RECSYS_QUIET: '1' },
    }),
  );
  check(
    await runCli([
      'train',
      'als',
      '--data',
      data,
      '--split',
      'temporal-user',
      '--out',
      join(w, 'als'),
      '--factors',
      '8',
      '--iterations',
      '4',
    ]),
  );
  check(await runCli(['train', 'popularity', '--data', data, '--split', 'temporal-user', '--out', join(w, 'popularity')]));
  writeFileSync(
    join(w, 'exp.yaml'),
    `id: pop-vs-als\nsalt: s\nstart: "2030-01-01T00:00:00Z"\nvariants:\n  - {name: popularity, share: 0.5, model: ${join(w, 'popularity')}}\n  - {name: als, share: 0.5, model: ${join(w, 'als')}}\n`,
  );
}, 120_000);

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

describe('recsys simulate', () => {
  it('writes the log store and truth.json; the truth recomputed from the logged answers by hand agrees', async () => {
    const args = [
      'simulate',
      '--data',
      join(w, 'data'),
      '--model',
      join(w, 'als'),
      '--experiment',
      join(w, 'exp.yaml'),
      '--days',
      '2',
      '--users-per-day',
      '150',
      '--k',
      '5',
      '--seed',
      '3',
    ];
    check(await runCli([...args, '--out', join(w, 'sim')]));
    const truth = JSON.parse(readFileSync(join(w, 'sim', 'truth.json'), 'utf8')) as GroundTruth;
    const logs = await readLogInto(join(w, 'sim', 'logs'), { strict: true });
    expect(logs.exposures).toHaveLength(300);
    const { planted } = generateSynthetic(SYNTH);
    const rel = (u: number, i: number): number => {
      let dot = 0;
      for (let j = 0; j < planted.dim; j++) dot += planted.tasteEnd[(u - 1) * planted.dim + j] * planted.items[(i - 1) * planted.dim + j];
      return sigmoid(-5.5 + 6 * dot);
    };
    for (const variant of ['popularity', 'als']) {
      const shown = logs.exposures.filter((e) => e.variant === variant);
      let expected = 0;
      for (const e of shown) for (const s of e.items) expected += s.position ** -0.7 * rel(e.user_id as number, s.item_id);
      expect(truth.variants[variant].shown.arrivals).toBe(shown.length);
      expect(truth.variants[variant].shown.expected_clicks).toBeCloseTo(expected, 8);
      expect(truth.variants[variant].shown.clicks).toBe(
        logs.events.filter((e) => e.type === 'click' && shown.some((x) => x.request_id === e.request_id)).length,
      );
    }
    expect(truth.lift.als.population).toBeCloseTo(truth.variants.als.population!.ctr / truth.variants.popularity.population!.ctr - 1, 12);
  });

  it('through a running recsys serve: the same arrivals get the lists the fast path computes, and the same clicks', async () => {
    const { base, server } = await startServe(['--model', join(w, 'als')]);
    try {
      const common = ['--data', join(w, 'data'), '--days', '1', '--users-per-day', '60', '--k', '5', '--seed', '8'];
      check(await runCli(['simulate', ...common, '--serve', base, '--out', join(w, 'http')]));
      check(await runCli(['simulate', ...common, '--model', join(w, 'als'), '--out', join(w, 'fast')]));
      const http = await readLogInto(join(w, 'http', 'logs'), { strict: true });
      const fast = await readLogInto(join(w, 'fast', 'logs'), { strict: true });
      expect(http.exposures.map((e) => [e.user_id, e.items.map((i) => i.item_id)])).toEqual(
        fast.exposures.map((e) => [e.user_id, e.items.map((i) => i.item_id)]),
      );
      expect(http.events.length).toBeGreaterThan(0);
      expect(http.exposures.every((e) => e.items.every((i) => i.propensity === 1))).toBe(true);
      expect(http.events.map((e) => [e.user_id, e.item_id, e.type, e.time])).toEqual(
        fast.events.map((e) => [e.user_id, e.item_id, e.type, e.time]),
      );
      const truth = JSON.parse(readFileSync(join(w, 'http', 'truth.json'), 'utf8')) as GroundTruth;
      expect(truth.variants.all.population).toBeNull();
    } finally {
      server.child.kill('SIGTERM');
      await server.closed;
    }
  });

  it('in process (--in-process): the serving library answers as the fast path until a click of the last hour enters the session', async () => {
    const common = { data: join(w, 'data'), target: { model: join(w, 'als') }, days: 1, usersPerDay: 800, k: 5, seed: 9 };
    await runSimulation({ ...common, inProcess: true, out: join(w, 'lib') });
    await runSimulation({ ...common, out: join(w, 'lib-fast') });
    const lib = await readLogInto(join(w, 'lib', 'logs'), { strict: true });
    const fast = await readLogInto(join(w, 'lib-fast', 'logs'), { strict: true });
    expect(lib.exposures.map((e) => e.user_id)).toEqual(fast.exposures.map((e) => e.user_id));
    const clicks = lib.events.filter((e) => e.type === 'click');
    let withSession = 0;
    let changed = 0;
    lib.exposures.forEach((e, n) => {
      const items = e.items.map((i) => i.item_id);
      const before = fast.exposures[n].items.map((i) => i.item_id);
      const session = clicks.some((c) => c.user_id === e.user_id && c.time < e.time && c.time > e.time - 3_600_000);
      if (!session) expect(items).toEqual(before);
      else {
        withSession++;
        if (items.join() !== before.join()) changed++;
      }
    });
    expect(withSession).toBeGreaterThan(0);
    expect(changed).toBeGreaterThan(0);
  });

  it('bad input: one line naming the problem, exit 2', async () => {
    const data = join(w, 'data');
    const both = await runCli([
      'simulate',
      '--data',
      data,
      '--model',
      join(w, 'als'),
      '--serve',
      'http://127.0.0.1:1',
      '--out',
      join(w, 'x'),
    ]);
    expect(both.code).toBe(2);
    expect(oneErrorLine(both)).toMatch(/exactly one of --serve URL, --model ARTIFACT and --pipeline FILE/);
    const notSynth = join(w, 'not-synth');
    mkdirSync(notSynth);
    writeFileSync(join(notSynth, 'dataset.json'), JSON.stringify({ source: { kind: 'movielens' } }));
    const wrongData = await runCli(['simulate', '--data', notSynth, '--model', join(w, 'als'), '--out', join(w, 'x')]);
    expect(wrongData.code).toBe(2);
    expect(oneErrorLine(wrongData)).toMatch(/not-synth\/dataset\.json: not a synthetic dataset/);
    const occupied = join(w, 'occupied');
    mkdirSync(occupied);
    writeFileSync(join(occupied, 'notes.txt'), 'mine');
    const taken = await runCli(['simulate', '--data', data, '--model', join(w, 'als'), '--out', occupied]);
    expect(taken.code).toBe(2);
    expect(oneErrorLine(taken)).toMatch(/occupied: exists and is not a previous simulation output/);
    expect(readFileSync(join(occupied, 'notes.txt'), 'utf8')).toBe('mine');
  });
});
