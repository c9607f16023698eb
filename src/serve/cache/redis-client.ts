import { Redis } from 'ioredis';
import { InputError, RecsysError } from '../../util/errors.js';

/** Long enough for a loaded server on the same network; short enough that a wrong host fails fast. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 2000;

/** A redis:// or rediss:// URL; anything else is bad input naming `what` (the option or key it came from). */
export function parseRedisUrl(url: string, what = '--redis'): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError(`${what} "${url}": not a URL; expected redis://HOST:PORT`);
  }
  const shown = parsed.password === '' ? url : redactUrl(parsed);
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw new InputError(`${what} "${shown}": expected a redis:// or rediss:// URL`);
  if (parsed.hostname === '') throw new InputError(`${what} "${shown}": no host; expected redis://HOST:PORT`);
  return parsed;
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: URL): string {
  if (url.password === '') return url.toString();
  const copy = new URL(url.toString());
  copy.password = '***';
  return copy.toString();
}

/**
 * A connected client, or a one-line RecsysError (exit 1: the input is fine, the server is not
 * there) after at most `connectTimeoutMs`. It does not reconnect: a publish that loses its
 * server fails, and the pointer stays where it was.
 */
export async function connectRedis(url: string, connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): Promise<Redis> {
  const parsed = parseRedisUrl(url);
  const client = new Redis(parsed.toString(), {
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  // Kept for the message: without retries the rejected connect() only says "Connection is closed."
  let cause: Error | null = null;
  client.on('error', (err: Error) => {
    cause ??= err;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    client.disconnect();
    throw new RecsysError(`${redactUrl(parsed)}: cannot reach Redis (${(cause ?? (err as Error)).message})`);
  }
  return client;
}
