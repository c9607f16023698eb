import { Command } from 'commander';
import { syncOutbox } from '../../tracking/index.js';
import { InputError, RecsysError } from '../../util/errors.js';

/** `recsys tracking sync`: sends what the tracker kept locally while the MLflow server was unreachable. */
export function trackingCommand(): Command {
  const cmd = new Command('tracking').description('MLflow run tracking (see docs/tracking.md)');
  cmd
    .command('sync')
    .description("send the runs kept in the artifact root's outbox to the tracking server (MLFLOW_TRACKING_URI)")
    .option('--root <dir>', 'artifact root holding .tracking-outbox.jsonl', 'artifacts')
    .option('--uri <uri>', 'tracking server (default: MLFLOW_TRACKING_URI)')
    .action(async (o: { root: string; uri?: string }) => {
      const uri = (o.uri ?? process.env.MLFLOW_TRACKING_URI ?? '').trim();
      if (!/^https?:\/\//i.test(uri))
        throw new InputError(
          `tracking sync needs a tracking server: set MLFLOW_TRACKING_URI (or --uri) to http(s)://host:port${uri ? `, not "${uri}"` : ''}`,
        );
      const r = await syncOutbox(o.root, uri);
      process.stdout.write(`sent ${r.sent}, refused ${r.failed} (kept in .tracking-outbox.rejected.jsonl), pending ${r.pending}\n`);
      if (r.pending > 0)
        throw new RecsysError(`${r.pending} request(s) could not be sent yet (the server is unreachable); run the sync again later`);
    });
  return cmd;
}
