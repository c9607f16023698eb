import { type Started, startCli, type CliOptions } from '../cli-runner.js';
import { freeLoopbackPort } from './redis-server.js';

/** `recsys serve` in a child process, for the tests that send it real requests. */

/** The version `/readyz` names, or null while the server is not ready (or not listening yet). */
export async function readyVersion(base: string): Promise<string | null> {
  try {
    const res = await fetch(`${base}/readyz`);
    return res.ok ? ((await res.json()) as { version: string }).version : null;
  } catch {
    return null;
  }
}

/** Polls `check` every 100 ms until it gives a value; throws naming `what` after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | null | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** `recsys serve ARGS --port <a free one>`, once it is ready; stderr quiet unless `opts.env` says otherwise. */
export async function startServe(args: readonly string[], opts: CliOptions = {}): Promise<{ base: string; server: Started }> {
  const port = await freeLoopbackPort();
  const server = startCli(['serve', ...args, '--port', String(port)], { ...opts, env: { RECSYS_QUIET: '1', ...opts.env } });
  const base = `http://127.0.0.1:${port}`;
  await until('the server to be ready', async () => {
    if (server.child.exitCode !== null) throw new Error(`recsys serve exited with ${server.child.exitCode}: ${server.stderr()}`);
    return readyVersion(base);
  });
  return { base, server };
}
