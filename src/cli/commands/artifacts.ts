import { Command } from 'commander';
import { listArtifacts, readManifest, resolveArtifactDir } from '../../artifacts/store.js';
import { printJson } from '../options.js';

const KEY_METRICS = ['ndcg@10', 'recall@10'];

export function artifactsCommand(): Command {
  const cmd = new Command('artifacts').description('list and inspect versioned artifacts');
  cmd
    .command('list')
    .description('versions under the artifact root with their key metrics')
    .option('--root <dir>', 'artifact root', 'artifacts')
    .option('--json', 'print JSON', false)
    .action((o: { root: string; json: boolean }) => {
      const rows = listArtifacts(o.root);
      if (o.json) {
        printJson(rows.map((r) => ({ name: r.name, version: r.version, latest: r.latest, kind: r.manifest.kind, metrics: r.manifest.metrics })));
        return;
      }
      if (rows.length === 0) {
        process.stdout.write(`no artifacts under ${o.root}\n`);
        return;
      }
      for (const r of rows) {
        const metrics = Object.entries(r.manifest.metrics)
          .map(([protocol, m]) => `${protocol}: ${KEY_METRICS.filter((k) => m[k] !== undefined).map((k) => `${k}=${m[k].toFixed(4)}`).join(' ')}`)
          .join('; ');
        process.stdout.write(`${r.latest ? '*' : ' '} ${r.name}/${r.version}  ${r.manifest.kind}  ${metrics}\n`);
      }
    });
  cmd
    .command('show')
    .description("print an artifact version's manifest")
    .argument('<artifact>', 'artifact directory, e.g. artifacts/als/latest')
    .action((path: string) => printJson(readManifest(resolveArtifactDir(path))));
  return cmd;
}
