import type { ExposureRecord, UserEventRecord } from '../events/records.js';
import { RecsysError } from '../util/errors.js';
import type { Answer } from '../serve/types.js';
import { exposureRecord } from '../serve/service.js';
import type { Answerer } from './simulator.js';

/**
 * Asks a running `recsys serve` over HTTP: GET /recommend/:user?k=K, then POST /events for each
 * click. The exposure the simulator logs is the answer as the server returned it, at the
 * simulated time; the server logs its own copy, at its own clock.
 */
export class HttpAnswerer implements Answerer {
  constructor(private readonly baseUrl: string) {}

  async answer(userId: number, k: number, time: number): Promise<ExposureRecord> {
    const url = `${this.baseUrl.replace(/\/$/, '')}/recommend/${userId}?k=${k}`;
    return exposureRecord((await this.call(url, { method: 'GET' })) as Answer, 'user', time);
  }

  async send(event: UserEventRecord): Promise<void> {
    // No time: a server accepts event times only near its own clock, and simulated days are not; it stamps them on arrival.
    const body = { user: event.user_id, item: event.item_id, type: event.type, request_id: event.request_id };
    await this.call(`${this.baseUrl.replace(/\/$/, '')}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  private async call(url: string, init: RequestInit): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      throw new RecsysError(
        `simulate: ${init.method} ${url}: ${((err as Error).cause as Error | undefined)?.message ?? (err as Error).message}`,
      );
    }
    const text = await response.text();
    if (!response.ok) throw new RecsysError(`simulate: ${init.method} ${url}: HTTP ${response.status} ${text.slice(0, 200)}`);
    return text.length > 0 ? JSON.parse(text) : null;
  }
}
