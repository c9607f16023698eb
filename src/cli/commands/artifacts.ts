import { Command } from 'commander';
import { collectGarbage, findVersion, planGc, promote } from '../../artifacts/gc.js';
import { listArtifacts, readManifest, resolveArtifactDir } from '../../artifacts/store.js';
import { defaultVerifyOptions, verifyTree } from '../../artifacts/verify.js';
import { InputError } from '../../util/errors.js';
import { log } from '../../util/log.js';
import { acquireRootLock } from '../../pipeline/lock.js';
import { intOption, printJson } from '../options.js';

/** Runs `work` holding the artifact root's lock, so it never races a pipeline run. */
async function withRootLock<T>(root: string, command: string, work: () => T | Promise<T>): Promise<T> {
  const lock = acquireRootLock(root, command);
  try {
    return await work();
  } finally {
    lock.release();
  }
}

const KEY_METRICS = ['ndcg@10', 'recall@10'];

export function artifactsCommand(): Command {
  const cmd = new Command('artifacts').description('list, inspect, promote and garbage-collect versioned artifacts');
  cmd
    .command('list')
    .description('versions under the artifact root with their key metrics')
    .option('--root <dir>', 'artifact root', 'artifacts')
    .option('--json', 'print JSON', false)
    .action((o: { root: string; json: boolean }) => {
      const rows = listArtifacts(o.root);
      if (o.json) {
        printJson(
          rows.map((r) => ({ name: r.name, version: r.version, latest: r.latest, kind: r.manifest.kind, metrics: r.manifest.metrics })),
        );
        return;
      }
      if (rows.length === 0) {
        process.stdout.write(`no artifacts under ${o.root}\n`);
        return;
      }
      for (const r of rows) {
        const metrics = Object.entries(r.manifest.metrics)
          .map(
            ([protocol, m]) =>
              `${protocol}: ${KEY_METRICS.filter((k) => m[k] !== undefined)
                .map((k) => `${k}=${m[k].toFixed(4)}`)
                .join(' ')}`,
          )
          .join('; ');
        process.stdout.write(`${r.latest ? '*' : ' '} ${r.name}/${r.version}  ${r.manifest.kind}  ${metrics}\n`);
      }
    });
  cmd
    .command('show')
    .description("print an artifact version's manifest")
    .argument('<artifact>', 'artifact directory, e.g. artifacts/als/latest')
    .action((path: string) => printJson(readManifest(resolveArtifactDir(path))));
  cmd
    .command('promote')
    .description('point latest at another complete version (e.g. roll back), atomically')
    .argument('<version>', 'NAME/VERSION, a version directory, or a version name unique under the root')
    .option('--root <dir>', 'artifact root', 'artifacts')
    .action(async (spec: string, o: { root: string }) => {
      const root = findVersion(o.root, spec).root;
      const p = await withRootLock(root, 'recsys artifacts promote', () => promote(root, spec));
      process.stdout.write(`${p.name}: latest ${p.from ?? '(none)'} -> ${p.to}\n`);
    });
  cmd
    .command('gc')
    .description('remove old versions: keeps the N newest per artifact, latest, its regression baseline, and all they were built from')
    .requiredOption('--keep <n>', 'newest versions kept per artifact', intOption('--keep', 0))
    .option('--root <dir>', 'artifact root', 'artifacts')
    .option('--dry-run', 'print what would be removed, remove nothing', false)
    .action(async (o: { keep: number; root: string; dryRun: boolean }) => {
      const plan = o.dryRun
        ? planGc(o.root, o.keep)
        : await withRootLock(o.root, 'recsys artifacts gc', () => collectGarbage(o.root, o.keep));
      for (const b of plan.broken)
        log.warn(`${b.problem}; version ${b.name}/${b.version} left as it is (gc never removes a version it cannot read)`);
      for (const a of plan.remove) process.stdout.write(`${o.dryRun ? 'would remove' : 'removed'} ${a.name}/${a.version}\n`);
      process.stdout.write(`${plan.remove.length} version(s) ${o.dryRun ? 'to remove' : 'removed'}, ${plan.keep.length} kept\n`);
    });
  cmd
    .command('verify')
    .description('check versions against their manifests (every file present, sizes and sha256): a version, an artifact or a whole root')
    .argument('[path]', 'a version directory, an artifact folder (all its versions) or an artifact root', 'artifacts')
    .action(async (path: string) => {
      const checks = await verifyTree(path, defaultVerifyOptions());
      for (const c of checks)
        process.stdout.write(
          `${c.problem === null ? 'ok ' : 'BAD'} ${c.latest ? '*' : ' '} ${c.label}${c.problem === null ? '' : `  ${c.problem}`}\n`,
        );
      const bad = checks.filter((c) => c.problem !== null).length;
      process.stdout.write(`${checks.length} version(s) checked, ${bad} bad\n`);
      if (bad > 0) throw new InputError(`${path}: ${bad} version(s) do not match their manifest`);
    });
  return cmd;
}
