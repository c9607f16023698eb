import type { ExposureRecord, UserEventRecord } from '../events/records.js';
import type { RecommendationService } from '../serve/service.js';
import type { Answer } from '../serve/types.js';
import type { Answerer } from './simulator.js';

/** The exposure a served answer makes, at simulated time `time` (what the server logs, from its JSON). */
export function exposureOf(answer: Answer, userId: number, time: number): ExposureRecord {
  return {
    kind: 'exposure',
    request_id: answer.request_id,
    time,
    user_id: userId,
    route: 'user',
    model: answer.model,
    version: answer.version,
    path: answer.path,
    experiment: answer.experiment ?? null,
    variant: answer.variant ?? null,
    policy: answer.policy,
    items: answer.items.map((i) => ({
      item_id: i.item_id,
      position: i.rank,
      score: i.score,
      channel: i.channel,
      propensity: i.propensity,
    })),
  };
}

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
    return exposureOf(await this.service.recommendUser(userId, k), userId, time);
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
