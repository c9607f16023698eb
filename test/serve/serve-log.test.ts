import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readLogInto } from '../../src/events/log-reader.js';
import { assignVariant, loadExperiment } from '../../src/experiments/experiment.js';
import type { Answer } from '../../src/serve/types.js';
import { errorLines, runCli } from '../cli-runner.js';
import { tempDir } from '../helpers.js';
import { startServe } from './serve-process.js';
import { servedPipeline, type ServedPipeline } from './served-pipeline.js';

/**
 * `recsys serve --log-dir` end to end: a real server process logs what it answered and the
 * events it was sent into the local log store, read back by the log reader after SIGTERM; and
 * the new options' bad values exit 2 with one line.
 */
let fx: ServedPipeline;

beforeAll(async () => {
  fx = await servedPipeline();
}, 600_000);

describe('recsys serve --log-dir --experiment', () => {
  it('logs every answer and event to the log directory, with the experiment variant, readable after SIGTERM', async () => {
    const work = tempDir('recsys-serve-log-');
    const logs = join(work, 'logs');
    const experimentFile = join(work, 'experiment.yaml');
    writeFileSync(
      experimentFile,
      [
        'id: serve-log',
        'salt: s1',
        'start: "2020-01-01T00:00:00Z"',
        'variants:',
        '  - {name: control, share: 0.5}',
        '  - {name: explore, share: 0.5, policy: "epsilon-greedy:0.2:candidates"}',
        '',
      ].join('\n'),
    );
    const experiment = loadExperiment(experimentFile);
    const { base, server } = await startServe([
      '--model',
      join(fx.artifacts, 'als-temporal-user'),
      '--log-dir',
      logs,
      '--experiment',
      experimentFile,
      '--seed',
      '5',
    ]);
    const answers: Answer[] = [];
    for (const user of [1, 2, 3, 4, 5, 6]) {
      const res = await fetch(`${base}/recommend/${user}?k=5`);
      answers.push((await res.json()) as Answer);
    }
    const event = await fetch(`${base}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 1, item: answers[0].items[0].item_id, type: 'click', request_id: answers[0].request_id }),
    });
    expect(event.status).toBe(202);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
    const log = await readLogInto(logs);
    expect(log.stats).toMatchObject({ bad: 0 });
    expect(log.exposures.map((e) => e.request_id)).toEqual(answers.map((a) => a.request_id));
    for (const [j, e] of log.exposures.entries()) {
      const a = answers[j];
      expect(e.variant).toBe(assignVariant(experiment, a.user_id as number).name);
      expect(e.experiment).toBe('serve-log');
      expect(e.policy).toBe(e.variant === 'control' ? 'greedy' : 'epsilon-greedy:0.2:candidates');
      expect(e.items.map((i) => [i.item_id, i.position, i.propensity])).toEqual(a.items.map((i) => [i.item_id, i.rank, i.propensity]));
    }
    expect(log.events).toEqual([
      expect.objectContaining({
        kind: 'event',
        user_id: 1,
        item_id: answers[0].items[0].item_id,
        type: 'click',
        request_id: answers[0].request_id,
      }),
    ]);
  }, 120_000);
});

describe('recsys serve: bad feedback-loop options', () => {
  it('exit 2 with one line naming the option', async () => {
    const work = tempDir('recsys-serve-bad-');
    const model = join(fx.artifacts, 'als-temporal-user');
    const badExperiment = join(work, 'bad.yaml');
    writeFileSync(
      badExperiment,
      'id: x\nsalt: s\nstart: "2020-01-01T00:00:00Z"\nvariants: [{name: a, share: 0.7}, {name: b, share: 0.2}]\n',
    );
    const cases: Array<[string[], RegExp]> = [
      [['--session-redis', 'http://127.0.0.1:1'], /--session-redis .*redis:\/\//],
      [['--log-redis', 'nonsense'], /--log-redis/],
      [['--session-size', '-1'], /--session-size/],
      [['--session-ttl-s', '0'], /--session-ttl-s/],
      [['--experiment', join(work, 'missing.yaml')], /missing\.yaml/],
      [['--experiment', badExperiment], /bad\.yaml: variants: shares sum to 0\.[89][0-9]*, not 1/],
      [['--policy', 'epsilon-greedy:2'], /policy "epsilon-greedy:2": EPS/],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(['serve', '--model', model, '--port', '0', ...args]);
      expect(run.code, args.join(' ')).toBe(2);
      const lines = errorLines(run.stderr);
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0], args.join(' ')).toMatch(message);
    }
  }, 120_000);
});
