import type { ExposureRecord, UserEventRecord } from '../events/records.js';
import { exposureRecord, type RecommendationService } from '../serve/service.js';
import type { Answerer } from './simulator.js';

/** Simulated time, for the serving library's clock: the simulator sets it before each request and event. */
export class SimulatedClock {
  time = 0;
  readonly now = (): number => this.time;
}

/**
 * Asks the serving library in this process (`RecommendationService`, created with
 * `now: clock.now`): the same experiment, policies and session history as `recsys serve`, on
 * simulated time, without HTTP.
 */
export class ServiceAnswerer implements Answerer {
  constructor(
    private readonly service: RecommendationService,
    private readonly clock: SimulatedClock,
  ) {}

  async answer(userId: number, k: number, time: number): Promise<ExposureRecord> {
    this.clock.time = time;
    return exposureRecord(await this.service.recommendUser(userId, k), 'user', time);
  }

  async send(event: UserEventRecord): Promise<void> {
    this.clock.time = event.time;
    await this.service.recordEvents({
      user: event.user_id,
      item: event.item_id,
      type: event.type,
      request_id: event.request_id,
      time: event.time,
    });
  }
}
