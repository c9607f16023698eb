import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { connectRedis } from '../../src/serve/cache/redis-client.js';
import { tempDir } from '../helpers.js';

/**
 * A real `redis-server` (Debian package redis-server) on a free loopback port, without
 * persistence, for one test file: started, waited for until it answers PING, stopped after.
 */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** SIGSTOP and SIGCONT hang and resume it; any other signal resolves once it has exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

/** A port nothing listens on right now: the kernel's pick for port 0, released again. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves when `child` has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/** On a free port, or on `port` (a restart where a killed one listened). */
export async function startRedisServer(port?: number): Promise<RedisServer> {
  port ??= await freeLoopbackPort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tempDir()],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `redis://127.0.0.1:${port}`;
  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    child.kill(signal);
    if (signal !== 'SIGSTOP' && signal !== 'SIGCONT') await exited(child);
  };
  // A stopped server handles SIGTERM only once it runs again.
  const stop = async (): Promise<void> => {
    child.kill('SIGCONT');
    await kill('SIGTERM');
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${stderr}`);
    try {
      const client = await connectRedis(url, 500);
      client.disconnect();
      return { port, url, kill, stop };
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
