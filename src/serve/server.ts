import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { log } from '../util/log.js';
import { BadRequest, type EventInput, parseExclude, parseHistoryBody, parseId, parseK, REQUEST_ID } from './request.js';
import type { RequestOptions } from './service.js';
import type { RecommendationService } from './service.js';
import type { Answer } from './types.js';
import type { RequestPath } from './metrics.js';

/** Bodies are a history of at most MAX_LIST ids: 64 KiB is ample, and bounds what a client can make us parse. */
export const BODY_LIMIT_BYTES = 64 * 1024;
/** Path parameters are ids: a longer one is refused before routing. */
const MAX_PARAM_LENGTH = 100;

interface Timed {
  started: number;
  path: RequestPath;
}

/**
 * The HTTP routes of `recsys serve` over a service (docs/serving.md, "Endpoints"). Routes only
 * parse and answer; bad input is a 400 naming the field (a BadRequest, or fastify's own JSON
 * and size checks), never a 500; anything else is a 500 logged once and counted.
 */
export interface ServerOptions {
  /** What /metrics answers; default: the service's own registry (a cluster worker answers for every worker). */
  readonly metricsText?: () => Promise<string>;
}

export function buildServer(service: RecommendationService, opts: ServerOptions = {}): FastifyInstance {
  const metrics = service.metrics;
  const metricsText = opts.metricsText ?? (() => metrics.registry.metrics());
  const app = Fastify({
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    logger: false,
    // Errors of the router itself (a path parameter too long, a malformed URL) answer like ours.
    frameworkErrors: (err, _request, reply) => {
      metrics.error('bad_request');
      void (reply as FastifyReply).code(400).send({ error: `path: ${err.message}`, field: 'path' });
    },
  });
  const timing = new WeakMap<object, Timed>();

  app.addHook('onRequest', async (request) => {
    timing.set(request, { started: performance.now(), path: 'none' });
  });
  app.addHook('onResponse', async (request, reply) => {
    const t = timing.get(request);
    if (!t) return;
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.observeRequest(route, t.path, reply.statusCode, (performance.now() - t.started) / 1000);
  });

  const answered = (request: object, answer: Answer): Answer => {
    const t = timing.get(request);
    if (t) t.path = answer.path;
    return answer;
  };

  app.setErrorHandler((err: FastifyError | BadRequest, request, reply) => {
    const t = timing.get(request);
    if (t) t.path = 'error';
    if (err instanceof BadRequest) {
      metrics.error('bad_request');
      return reply.code(400).send({ error: err.message, field: err.field });
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // fastify's own checks: malformed JSON (400), body too large (413), wrong content type (415).
      metrics.error('bad_request');
      return reply.code(status === 413 || status === 415 ? status : 400).send({ error: err.message, field: 'body' });
    }
    metrics.error('internal');
    log.error(`serve: ${err.message}`);
    log.event('serve.internal_error', { error: err.message, stack: err.stack });
    return reply.code(500).send({ error: 'internal error' });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}` }));

  const notReady = (reply: FastifyReply) => reply.code(503).send({ error: 'no model loaded yet' });
  /** The client's `X-Request-Id` when it is a sane token (else the service makes one): echoed in the answer and its exposure. */
  const requestOf = (request: { headers: Record<string, string | string[] | undefined> }): RequestOptions => {
    const id = request.headers['x-request-id'];
    return typeof id === 'string' && REQUEST_ID.test(id) ? { requestId: id } : {};
  };

  app.get<{ Params: { userId: string }; Querystring: { k?: string; exclude?: string } }>('/recommend/:userId', async (request, reply) => {
    const userId = parseId('userId', request.params.userId);
    const k = parseK(request.query.k);
    const exclude = parseExclude(request.query.exclude);
    if (!service.serving) return notReady(reply);
    return answered(request, await service.recommendUser(userId, k, exclude, requestOf(request)));
  });

  app.post('/recommend', async (request, reply) => {
    const { history, k } = parseHistoryBody(request.body);
    if (!service.serving) return notReady(reply);
    return answered(request, await service.recommendHistory(history, k, requestOf(request)));
  });

  app.get<{ Params: { itemId: string }; Querystring: { k?: string } }>('/similar/:itemId', async (request, reply) => {
    const itemId = parseId('itemId', request.params.itemId);
    const k = parseK(request.query.k);
    if (!service.serving) return notReady(reply);
    return answered(request, await service.similar(itemId, k, requestOf(request)));
  });

  app.post('/events', async (request, reply) => {
    const accepted = await service.recordEvents(request.body as EventInput);
    return reply.code(202).send({ accepted });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const m = service.serving;
    if (!m) return reply.code(503).send({ status: 'loading' });
    return { status: 'ready', model: m.name, version: m.version, kind: m.kind };
  });

  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metricsText();
  });

  return app;
}
