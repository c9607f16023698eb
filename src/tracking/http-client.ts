/**
 * JSON over HTTP to an MLflow tracking server (REST API 2.0), with retries: network errors,
 * HTTP 429 and 5xx are retried with exponential backoff and full jitter, within a bounded
 * number of attempts and a bounded total time; other 4xx answers are final at once.
 */

export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  maxAttempts: number;
  /** Backoff before retry n (1-based) is uniform in [0, min(maxDelayMs, baseDelayMs·2^(n-1))]. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Time limit of one HTTP request. */
  requestTimeoutMs: number;
  /** Time limit of all attempts and waits of one call together. */
  totalTimeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 6,
  baseDelayMs: 500,
  maxDelayMs: 8000,
  requestTimeoutMs: 10_000,
  totalTimeoutMs: 30_000,
};

/** A failed call. `transient` failures (outage, overload) may succeed later; others will not. */
export class MlflowApiError extends Error {
  constructor(
    message: string,
    /** HTTP status, or null when no answer came (connection refused, timeout, reset). */
    readonly httpStatus: number | null,
    /** MLflow's `error_code` (e.g. RESOURCE_DOES_NOT_EXIST), or NETWORK_ERROR / HTTP_<status>. */
    readonly errorCode: string,
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'MlflowApiError';
  }
}

function isTransientStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

export class MlflowHttpClient {
  private readonly apiBase: string;
  private readonly headers: Record<string, string>;

  constructor(
    /** The tracking URI, e.g. http://mlflow:5000 (a path prefix is kept). */
    readonly uri: string,
    private readonly policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.apiBase = `${uri.replace(/\/+$/, '')}/api/2.0/mlflow/`;
    this.headers = { accept: 'application/json', ...authHeaders(env) };
  }

  /** GET `endpoint` (e.g. "experiments/get-by-name") with query parameters. */
  get<T>(endpoint: string, query: Record<string, string>): Promise<T> {
    const url = `${this.apiBase}${endpoint}?${new URLSearchParams(query).toString()}`;
    return this.call<T>(url, { method: 'GET', headers: this.headers });
  }

  /** POST a JSON body to `endpoint` (e.g. "runs/log-batch"). */
  post<T>(endpoint: string, body: unknown): Promise<T> {
    return this.call<T>(`${this.apiBase}${endpoint}`, {
      method: 'POST',
      headers: { ...this.headers, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  private async call<T>(url: string, init: RequestInit): Promise<T> {
    const deadline = Date.now() + this.policy.totalTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      const remaining = deadline - Date.now();
      let failure: MlflowApiError;
      let retryAfterMs = 0;
      try {
        const res = await fetch(url, {
          ...init,
          signal: AbortSignal.timeout(Math.max(1, Math.min(this.policy.requestTimeoutMs, remaining))),
        });
        const text = await res.text();
        if (res.ok) return (text.trim() === '' ? {} : JSON.parse(text)) as T;
        failure = errorFromResponse(res.status, text, url);
        retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      } catch (err) {
        failure =
          err instanceof SyntaxError
            ? new MlflowApiError(`${url}: answer is not JSON (${err.message})`, null, 'BAD_RESPONSE', false)
            : new MlflowApiError(`${url}: ${networkMessage(err)}`, null, 'NETWORK_ERROR', true);
      }
      if (!failure.transient || attempt >= this.policy.maxAttempts) throw failure;
      const backoff = Math.random() * Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (attempt - 1));
      const wait = Math.max(backoff, retryAfterMs);
      if (Date.now() + wait >= deadline) throw failure;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** MLflow answers errors with `{"error_code": ..., "message": ...}`; proxies may not. */
function errorFromResponse(status: number, text: string, url: string): MlflowApiError {
  let code = `HTTP_${status}`;
  let message = text.slice(0, 500);
  try {
    const body = JSON.parse(text) as { error_code?: unknown; message?: unknown };
    if (typeof body.error_code === 'string') code = body.error_code;
    if (typeof body.message === 'string') message = body.message;
  } catch {
    // Not JSON (an HTML error page from a proxy): keep the status and the start of the text.
  }
  return new MlflowApiError(`${url}: HTTP ${status} ${code}: ${message}`, status, code, isTransientStatus(status));
}

function parseRetryAfter(header: string | null): number {
  if (header === null) return 0;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
}

/** What went wrong with a request that got no answer, in a few words (fetch hides the cause). */
export function networkMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
  if (err.name === 'TimeoutError') return 'request timed out';
  return cause?.code ? `${err.message} (${cause.code})` : cause?.message ? `${err.message} (${cause.message})` : err.message;
}

/** MLflow's client credentials: MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME/PASSWORD. */
function authHeaders(env: NodeJS.ProcessEnv): Record<string, string> {
  if (env.MLFLOW_TRACKING_TOKEN) return { authorization: `Bearer ${env.MLFLOW_TRACKING_TOKEN}` };
  if (env.MLFLOW_TRACKING_USERNAME) {
    const basic = Buffer.from(`${env.MLFLOW_TRACKING_USERNAME}:${env.MLFLOW_TRACKING_PASSWORD ?? ''}`).toString('base64');
    return { authorization: `Basic ${basic}` };
  }
  return {};
}
