import { alsFactory } from '../models/als/model.js';
import type { ModelFactory } from '../models/model.js';
import { popularityFactory } from '../models/popularity/popularity.js';
import { twoTowerFactory } from '../models/two-tower/model.js';
import { channelModel } from '../rank/channels/channel.js';
import { rankerFactory } from '../rank/ranker.js';
import { InputError } from '../util/errors.js';
import type { ParamsSchema } from '../models/params.js';

/** Parameters reach factories as a generic record (from the CLI or a pipeline file), validated by `params`. */
export type AnyModelFactory = ModelFactory<ParamsSchema>;

function generic<S extends ParamsSchema>(f: ModelFactory<S>): AnyModelFactory {
  return f as unknown as AnyModelFactory;
}

/**
 * Every model kind the CLI, the evaluator and the pipeline can fit or load, by name. The ranker
 * is assembled here with the models it may use as channels, each fitted with its defaults.
 */
const FACTORIES: readonly AnyModelFactory[] = [
  generic(popularityFactory),
  generic(alsFactory),
  generic(rankerFactory({ als: channelModel(alsFactory), 'two-tower': channelModel(twoTowerFactory) })),
  generic(twoTowerFactory),
];

export function modelKinds(): string[] {
  return FACTORIES.map((f) => f.kind);
}

export function getFactory(kind: string): AnyModelFactory {
  const f = FACTORIES.find((x) => x.kind === kind);
  if (!f) throw new InputError(`unknown model "${kind}" (known: ${modelKinds().join(', ')})`);
  return f;
}
