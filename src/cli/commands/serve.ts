import { Command } from 'commander';
import { servingSource, type ServeTarget } from '../../pipeline/serving.js';
import { buildServer } from '../../serve/server.js';
import { DEFAULT_LRU_SIZE, DEFAULT_RELOAD_INTERVAL_MS, RecommendationService } from '../../serve/service.js';
import { InputError } from '../../util/errors.js';
import { log, setLogFile } from '../../util/log.js';
import { intOption } from '../options.js';

interface ServeOptions {
  model?: string;
  pipeline?: string;
  port: number;
  host: string;
  lruSize: number;
  reloadIntervalMs: number;
  log?: string;
}

/** `recsys serve`: the artifacts answering HTTP requests until SIGINT or SIGTERM (docs/serving.md). */
export function serveCommand(): Command {
  return new Command('serve')
    .description('answer recommendation requests over HTTP from a model artifact, following its latest version')
    .option('--model <artifact>', 'model artifact to serve, e.g. artifacts/ranker-temporal-user (follows its latest)')
    .option('--pipeline <file>', "serve the model of the pipeline file's last recommend step (its latest artifact)")
    .option('--port <n>', 'port (0 = any free port)', intOption('--port', 0), 8080)
    .option('--host <addr>', 'address to bind (loopback unless you say otherwise)', '127.0.0.1')
    .option('--lru-size <n>', 'answers kept in the in-process cache (0 = none)', intOption('--lru-size', 0), DEFAULT_LRU_SIZE)
    .option(
      '--reload-interval-ms <n>',
      'how often latest is checked for a new version (0 = never)',
      intOption('--reload-interval-ms', 0),
      DEFAULT_RELOAD_INTERVAL_MS,
    )
    .option('--log <file>', 'structured events (JSON lines) to this file')
    .action(async (o: ServeOptions) => {
      if ((o.model === undefined) === (o.pipeline === undefined))
        throw new InputError('serve needs exactly one of --model ARTIFACT and --pipeline FILE');
      if (o.port > 65535) throw new InputError(`--port ${o.port}: ports go up to 65535`);
      if (o.log) setLogFile(o.log);
      const target: ServeTarget = o.model !== undefined ? { model: o.model } : { pipeline: o.pipeline as string };
      const source = servingSource(target);
      const service = RecommendationService.create(source, { lruSize: o.lruSize, reloadIntervalMs: o.reloadIntervalMs });
      const app = buildServer(service);
      let address: string;
      try {
        address = await app.listen({ port: o.port, host: o.host });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')
          throw new InputError(`--host ${o.host} --port ${o.port}: cannot listen there (${code})`);
        throw err;
      }
      log.info(`listening on ${address}; loading ${source.target}`);
      try {
        const m = await service.start();
        log.info(`ready: serving ${m.name} ${m.version} (${m.kind}) on ${address}`);
      } catch (err) {
        await app.close();
        throw err;
      }
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals): void => {
          log.info(`${signal}: finishing the requests in flight, then stopping`);
          void app
            .close()
            .then(() => service.close())
            .finally(resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
