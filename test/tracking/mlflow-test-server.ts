import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small MLflow tracking server on loopback for tests: the five REST API 2.0 endpoints the
 * tracker uses, with the request validation, response bodies and error codes of the MLflow
 * REST API documentation and mlflow/utils/validation.py (error body
 * `{"error_code": ..., "message": ...}`; RESOURCE_DOES_NOT_EXIST → 404;
 * RESOURCE_ALREADY_EXISTS and INVALID_PARAMETER_VALUE → 400). Switches simulate outages:
 * `stop()` closes the port (connection refused), `failNext(n, status)` answers the next n
 * requests with an error status.
 */

export interface ServerExperiment {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: 'active';
  creation_time: number;
  last_update_time: number;
  tags: Array<{ key: string; value: string }>;
}

export interface ServerRunInfo {
  run_id: string;
  run_uuid: string;
  run_name: string;
  experiment_id: string;
  user_id: string;
  status: string;
  start_time: number;
  end_time?: number;
  artifact_uri: string;
  lifecycle_stage: 'active';
}

export interface ServerMetric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

export interface ServerRun {
  info: ServerRunInfo;
  metrics: ServerMetric[];
  params: Map<string, string>;
  tags: Map<string, string>;
}

export interface RecordedRequest {
  method: string;
  endpoint: string;
  status: number;
  body: unknown;
}

/** Retries that keep tests fast: 3 attempts, waits of at most 20 ms. */
export const FAST_RETRY = { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20, requestTimeoutMs: 2000, totalTimeoutMs: 5000 };

const RUN_STATUSES = new Set(['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED']);
const VALID_NAME = /^[/\p{L}\p{N}_.\- ]*$/u;
const MAX_BODY_BYTES = 1_000_000;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (message: string): ApiError => new ApiError(400, 'INVALID_PARAMETER_VALUE', message);
const missing = (field: string): ApiError =>
  invalid(`Missing value for required parameter '${field}'. See the API docs for more information about request parameters.`);

export class MlflowTestServer {
  readonly experiments = new Map<string, ServerExperiment>();
  readonly runs = new Map<string, ServerRun>();
  readonly requests: RecordedRequest[] = [];
  private readonly server: Server;
  private port = 0;
  private nextExperimentId = 1;
  private failures: number[] = [];

  constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
    const now = Date.now();
    this.experiments.set('0', {
      experiment_id: '0',
      name: 'Default',
      artifact_location: 'mlflow-artifacts:/0',
      lifecycle_stage: 'active',
      creation_time: now,
      last_update_time: now,
      tags: [],
    });
  }

  get uri(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Listens on 127.0.0.1: a free port the first time, the same port after `stop()`. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  /** Closes the port and every open connection: clients then get ECONNREFUSED. */
  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** After `after` normal answers, the next `count` requests get `status` and an MLflow error body. */
  failNext(count: number, status = 503, after = 0): void {
    for (let i = 0; i < after; i++) this.failures.push(0);
    for (let i = 0; i < count; i++) this.failures.push(status);
  }

  /** Ends simulated failures still queued by `failNext`. */
  recover(): void {
    this.failures = [];
  }

  /** Requests to `endpoint` (e.g. "runs/log-batch") answered with `status` (default 200). */
  count(endpoint: string, status = 200): number {
    return this.requests.filter((r) => r.endpoint === endpoint && r.status === status).length;
  }

  experimentByName(name: string): ServerExperiment | undefined {
    return [...this.experiments.values()].find((e) => e.name === name);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const endpoint = url.pathname.replace(/^\/api\/2\.0\/mlflow\//, '');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    let body: unknown = null;
    let status = 200;
    let answer: unknown;
    try {
      const failure = this.failures.shift();
      if (failure !== undefined && failure !== 0) {
        const code = failure === 429 ? 'REQUEST_LIMIT_EXCEEDED' : failure === 503 ? 'TEMPORARILY_UNAVAILABLE' : 'INTERNAL_ERROR';
        throw new ApiError(failure, code, `simulated failure ${failure}`);
      }
      if (req.method === 'POST') body = this.parseBody(req, raw);
      answer = this.route(`${req.method} ${endpoint}`, url.searchParams, body);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      status = err.status;
      answer = { error_code: err.code, message: err.message };
    }
    this.requests.push({ method: req.method ?? '', endpoint, status, body });
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer));
  }

  private parseBody(req: IncomingMessage, raw: Buffer): Record<string, unknown> {
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      throw invalid("Bad Request. Content-Type must be one of ['application/json'].");
    }
    if (raw.length > MAX_BODY_BYTES) {
      throw invalid(`Batched logging API requests must be at most ${MAX_BODY_BYTES} bytes, got a request of size ${raw.length}.`);
    }
    try {
      const parsed = JSON.parse(raw.toString('utf8')) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      return parsed as Record<string, unknown>;
    } catch {
      throw new ApiError(400, 'MALFORMED_REQUEST', 'Request body is not a JSON object');
    }
  }

  private route(route: string, query: URLSearchParams, body: unknown): unknown {
    const b = (body ?? {}) as Record<string, unknown>;
    switch (route) {
      case 'GET experiments/get-by-name':
        return this.getExperimentByName(query.get('experiment_name'));
      case 'POST experiments/create':
        return this.createExperiment(b);
      case 'POST runs/create':
        return this.createRun(b);
      case 'POST runs/log-batch':
        return this.logBatch(b);
      case 'POST runs/update':
        return this.updateRun(b);
      default:
        throw new ApiError(404, 'ENDPOINT_NOT_FOUND', `No endpoint ${route}`);
    }
  }

  private getExperimentByName(name: string | null): unknown {
    if (!name) throw missing('experiment_name');
    const found = this.experimentByName(name);
    if (!found) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `Could not find experiment with name '${name}'`);
    return { experiment: found };
  }

  private createExperiment(b: Record<string, unknown>): unknown {
    if (typeof b.name !== 'string' || b.name === '') throw missing('name');
    if (this.experimentByName(b.name)) throw new ApiError(400, 'RESOURCE_ALREADY_EXISTS', `Experiment '${b.name}' already exists.`);
    const id = String(this.nextExperimentId++);
    const now = Date.now();
    this.experiments.set(id, {
      experiment_id: id,
      name: b.name,
      artifact_location: typeof b.artifact_location === 'string' ? b.artifact_location : `mlflow-artifacts:/${id}`,
      lifecycle_stage: 'active',
      creation_time: now,
      last_update_time: now,
      tags: [],
    });
    return { experiment_id: id };
  }

  private createRun(b: Record<string, unknown>): unknown {
    const experimentId = typeof b.experiment_id === 'string' ? b.experiment_id : '0';
    if (!this.experiments.has(experimentId)) {
      throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${experimentId} exists`);
    }
    const tags = new Map(checkEntities(b.tags ?? [], 'tag', 5000).map((t) => [t.key, t.value]));
    const runNameTag = tags.get('mlflow.runName');
    const runName = typeof b.run_name === 'string' ? b.run_name : undefined;
    if (runName !== undefined && runNameTag !== undefined && runName !== runNameTag) {
      throw invalid(
        `Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${runName}', mlflow.runName='${runNameTag}').`,
      );
    }
    const name = runName ?? runNameTag ?? 'unnamed-run';
    tags.set('mlflow.runName', name);
    const runId = randomUUID().replace(/-/g, '');
    const info: ServerRunInfo = {
      run_id: runId,
      run_uuid: runId,
      run_name: name,
      experiment_id: experimentId,
      user_id: typeof b.user_id === 'string' ? b.user_id : '',
      status: 'RUNNING',
      start_time: typeof b.start_time === 'number' ? b.start_time : Date.now(),
      artifact_uri: `mlflow-artifacts:/${experimentId}/${runId}/artifacts`,
      lifecycle_stage: 'active',
    };
    this.runs.set(runId, { info, metrics: [], params: new Map(), tags });
    return { run: { info, data: { tags: [...tags].map(([key, value]) => ({ key, value })) }, inputs: {} } };
  }

  private findRun(runId: unknown): ServerRun {
    if (typeof runId !== 'string' || runId === '') throw missing('run_id');
    const run = this.runs.get(runId);
    if (!run) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);
    return run;
  }

  private logBatch(b: Record<string, unknown>): unknown {
    const run = this.findRun(b.run_id);
    const metrics = asArray(b.metrics, 'metrics');
    const params = checkEntities(b.params ?? [], 'param', 6000);
    const tags = checkEntities(b.tags ?? [], 'tag', 5000);
    batchLimit('metrics', 1000, metrics.length);
    batchLimit('params', 100, params.length);
    batchLimit('tags', 100, tags.length);
    batchLimit('metrics, params, and tags', 1000, metrics.length + params.length + tags.length);
    const parsed = metrics.map(checkMetric);
    const seen = new Set<string>();
    for (const p of params) {
      if (seen.has(p.key)) throw invalid(`Duplicate parameter keys have been submitted: ['${p.key}'].`);
      seen.add(p.key);
      const earlier = run.params.get(p.key);
      if (earlier !== undefined && earlier !== p.value) {
        throw invalid(
          `Changing param values is not allowed. Param with key='${p.key}' was already logged with value='${earlier}' for run ID='${run.info.run_id}'. Attempted logging new value '${p.value}'.`,
        );
      }
    }
    for (const p of params) run.params.set(p.key, p.value);
    run.metrics.push(...parsed);
    for (const t of tags) {
      run.tags.set(t.key, t.value);
      if (t.key === 'mlflow.runName') run.info.run_name = t.value;
    }
    return {};
  }

  private updateRun(b: Record<string, unknown>): unknown {
    const run = this.findRun(b.run_id ?? b.run_uuid);
    if (b.status !== undefined) {
      if (typeof b.status !== 'string' || !RUN_STATUSES.has(b.status))
        throw invalid(`Invalid value ${JSON.stringify(b.status)} for parameter 'status'`);
      run.info.status = b.status;
    }
    if (b.end_time !== undefined) {
      if (!Number.isInteger(b.end_time)) throw invalid(`Invalid value ${JSON.stringify(b.end_time)} for parameter 'end_time'`);
      run.info.end_time = b.end_time as number;
    }
    if (typeof b.run_name === 'string' && b.run_name !== '') {
      run.info.run_name = b.run_name;
      run.tags.set('mlflow.runName', b.run_name);
    }
    return { run_info: run.info };
  }
}

function asArray(value: unknown, field: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(`Invalid value ${JSON.stringify(value)} for parameter '${field}'`);
  return value;
}

function batchLimit(what: string, limit: number, length: number): void {
  if (length > limit) {
    throw invalid(
      `A batch logging request can contain at most ${limit} ${what}. Got ${length} ${what}. Please split up ${what} across multiple requests and try again.`,
    );
  }
}

function checkName(kind: string, name: unknown): string {
  if (typeof name !== 'string') throw missing('key');
  if (!VALID_NAME.test(name)) {
    throw invalid(
      `Invalid ${kind} name: '${name}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).`,
    );
  }
  const segments = name.split('/');
  if (name.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw invalid(
      `Invalid ${kind} name: '${name}'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such.`,
    );
  }
  if (Array.from(name).length > 250)
    throw invalid(`${kind} key '${name.slice(0, 250)}' had length ${name.length}, which exceeded length limit of 250`);
  return name;
}

function checkEntities(value: unknown, kind: string, maxValue: number): Array<{ key: string; value: string }> {
  return asArray(value, `${kind}s`).map((item) => {
    const e = item as { key?: unknown; value?: unknown };
    const key = checkName(kind, e.key);
    if (typeof e.value !== 'string') throw missing('value');
    if (Array.from(e.value).length > maxValue) {
      throw invalid(`${kind} value '${e.value.slice(0, 250)}' had length ${e.value.length}, which exceeded length limit of ${maxValue}`);
    }
    return { key, value: e.value };
  });
}

/** Metric JSON per the proto mapping: a double may be a number or "NaN"/"Infinity"/"-Infinity". */
function checkMetric(item: unknown): ServerMetric {
  const m = item as { key?: unknown; value?: unknown; timestamp?: unknown; step?: unknown };
  const key = checkName('metric', m.key);
  let value: number;
  if (typeof m.value === 'number') value = m.value;
  else if (m.value === 'NaN' || m.value === 'Infinity' || m.value === '-Infinity') value = Number(m.value);
  else
    throw invalid(
      `Got invalid value ${JSON.stringify(m.value)} for metric '${key}'. Please specify value as a valid double (64-bit floating point)`,
    );
  if (!Number.isInteger(m.timestamp) || (m.timestamp as number) < 0) {
    throw invalid(
      `Got invalid timestamp ${JSON.stringify(m.timestamp)} for metric '${key}'. Timestamp must be a nonnegative long (64-bit integer)`,
    );
  }
  const step = m.step === undefined ? 0 : m.step;
  if (!Number.isInteger(step))
    throw invalid(`Got invalid step ${JSON.stringify(m.step)} for metric '${key}'. Step must be a valid long (64-bit integer).`);
  return { key, value, timestamp: m.timestamp as number, step: step as number };
}
