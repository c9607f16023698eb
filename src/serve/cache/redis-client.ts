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

/** The longest wait between two reconnection attempts while Redis is away. */
const MAX_RECONNECT_DELAY_MS = 2000;
/** A reconnection attempt to a host that does not answer at all gives up after this long. */
const RECONNECT_TIMEOUT_MS = 1000;

export interface ReconnectingRedis {
  readonly client: Redis;
  /** True once the first connection is made; false at its first error (it keeps reconnecting). */
  readonly connected: Promise<boolean>;
  /** Why the connection is down: its last error (a server that closes it cleanly gives none). */
  whyDown(): string;
}

/**
 * A client for a server's read and write paths (the recommendations cache, sessions): every
 * command fails after `commandTimeoutMs`, commands are never queued while the connection is
 * down (they fail at once), and it reconnects in the background (every 0.1 s, backing off to
 * 2 s) until `disconnect()`.
 */
export function reconnectingRedis(url: URL, commandTimeoutMs: number): ReconnectingRedis {
  const client = new Redis(url.toString(), {
    commandTimeout: commandTimeoutMs,
    connectTimeout: RECONNECT_TIMEOUT_MS,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(100 * attempt, MAX_RECONNECT_DELAY_MS),
  });
  let connectionError = '';
  client.on('ready', () => {
    connectionError = 'the server closed the connection';
  });
  // Without a listener ioredis prints every failed reconnection attempt to the console.
  client.on('error', (err: Error) => {
    connectionError = err.message;
  });
  const connected = new Promise<boolean>((resolve) => {
    const settle = (ready: boolean) => (): void => {
      client.off('ready', onReady);
      client.off('error', onError);
      resolve(ready);
    };
    const onReady = settle(true);
    const onError = settle(false);
    client.once('ready', onReady);
    client.once('error', onError);
  });
  return { client, connected, whyDown: () => connectionError };
}
