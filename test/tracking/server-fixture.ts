import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { captureLog } from './log-capture.js';
import { MlflowTestServer } from './mlflow-test-server.js';

export interface ServerFixture {
  /** A fresh artifact root. */
  dir: string;
  server: MlflowTestServer;
  logs: ReturnType<typeof captureLog>;
}

/** Before each test: a temp artifact root, the log captured there, a running test server; removed after. */
export function useServerFixture(prefix: string, ready: (fixture: ServerFixture) => void): void {
  let fixture: ServerFixture;
  beforeEach(async () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    fixture = { dir, server: new MlflowTestServer(), logs: captureLog(dir) };
    await fixture.server.start();
    ready(fixture);
  });
  afterEach(async () => {
    fixture.logs.stop();
    await fixture.server.stop();
    rmSync(fixture.dir, { recursive: true, force: true });
  });
}
