import { Command } from 'commander';
import { RECS_OUTPUT, recommendAllUsers, recommendForHistory } from '../../pipeline/recommend.js';
import { withStandaloneOutput } from '../../pipeline/standalone.js';
import { excerpt, InputError } from '../../util/errors.js';
import { intOption, printJson } from '../options.js';

export function recommendCommand(): Command {
  return new Command('recommend')
    .description('top-k recommendations: for every user into Parquet (serving cache), or for a new user from a history')
    .requiredOption('--model <artifact>', 'model artifact, e.g. artifacts/als/latest')
    .option('--k <n>', 'items per user', intOption('--k', 1), 10)
    .option('--all-users', 'every training user of the model, written to --out', false)
    .option('--out <file>', 'with --all-users: Parquet file (user_id, item_id, rank, score, channel), its version in FILE.manifest.json')
    .option('--batch-size <n>', 'with --all-users: users per batch', intOption('--batch-size', 1), 2048)
    .option(
      '--policy <spec>',
      'with --all-users: placement policy (greedy, epsilon-greedy:EPS[:POOL], thompson:SLOT[:POOL]); adds a propensity column',
    )
    .option('--seed <n>', 'with --policy: seed of the policy draws', intOption('--seed', 0), 42)
    .option('--history <items>', 'comma-separated raw item ids of a user not in training (fold-in)')
    .option('--json', 'print JSON', false)
    .action(
      async (o: {
        model: string;
        k: number;
        allUsers: boolean;
        out?: string;
        batchSize: number;
        policy?: string;
        seed: number;
        history?: string;
        json: boolean;
      }) => {
        if (o.allUsers === (o.history !== undefined)) throw new InputError('give exactly one of --all-users and --history');
        if (o.policy !== undefined && !o.allUsers) throw new InputError('--policy goes with --all-users');
        if (o.allUsers) {
          if (!o.out) throw new InputError('--all-users needs --out FILE.parquet');
          const out = o.out;
          const report = await withStandaloneOutput({ out, kind: RECS_OUTPUT }, () =>
            recommendAllUsers({ model: o.model, k: o.k, out, batchSize: o.batchSize, sidecar: true, policy: o.policy, seed: o.seed }),
          );
          if (o.json) printJson(report);
          else
            process.stdout.write(
              `${report.rows} recommendations for ${report.users} users → ${report.out} (${report.seconds.toFixed(1)} s)\n`,
            );
          return;
        }
        const history = parseHistory(o.history ?? '');
        const recs = await recommendForHistory(o.model, history, o.k);
        if (o.json) printJson(recs);
        else
          process.stdout.write(
            `rank  item_id     score\n${recs.map((r) => `${String(r.rank).padStart(4)}  ${String(r.item_id).padStart(7)}  ${r.score.toFixed(4)}`).join('\n')}\n`,
          );
      },
    );
}

/** `--history 10,20,30`: raw item ids; an empty list or entry is refused (Number('') would be item 0). */
function parseHistory(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const bad = parts.find((p) => !/^\d+$/.test(p));
  if (bad !== undefined)
    throw new InputError(
      `--history ${excerpt(text)}: ${bad === '' ? 'an empty item id' : `${excerpt(bad)} is not an item id`}; expected comma-separated integer item ids, e.g. 1,50,260`,
    );
  return parts.map(Number);
}
