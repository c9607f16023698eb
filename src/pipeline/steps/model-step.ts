import { z } from 'zod';
import type { PipelineHead } from '../spec.js';
import { contentHash, requireLatest, type LatestArtifact } from './artifacts.js';
import { unknownSplits } from './split.js';
import type { DocIssue, Need, Produced, StepContext, UnitInputs } from './step.js';
import { modelArtifactName } from './train.js';

/**
 * What the steps built on one trained model (index, recommend) share: the keys `model` and
 * `split`, their place in the step graph (they need that model's train step), and the model's
 * latest artifact as their unit's input.
 */
export const modelStepKeys = {
  /** The train step name whose model the step uses. */
  model: z.string(),
  /** Default: the first split of the file. */
  split: z.string().optional(),
};

export interface ModelStepOptions {
  readonly model: string;
  readonly split?: string;
}

export function modelStepSplit(o: ModelStepOptions, head: PipelineHead): string {
  return o.split ?? Object.keys(head.splits)[0];
}

/** What a model step starts from: the model's train step, or (publish) another step's output of that model. */
export interface ModelStepInput {
  /** The token kind of the step that makes it (`model`, `recs`, ...). */
  readonly tokenKind: string;
  /** The problem when no step before makes it. */
  missing(model: string, split: string): string;
}

const TRAINED_MODEL: ModelStepInput = {
  tokenKind: 'model',
  missing: (model, split) => `no train step before this one trains "${model}" on split "${split}"`,
};

/**
 * `produces`, `needs` and `check` of a step that makes the artifact `outputName(model, split)`
 * from `input` (by default the trained model).
 */
export function modelStepGraph(
  tokenKind: string,
  outputName: (model: string, split: string) => string,
  input: ModelStepInput = TRAINED_MODEL,
): {
  produces(o: ModelStepOptions, at: StepContext): Produced[];
  needs(o: ModelStepOptions, at: StepContext): Need[];
  check(o: ModelStepOptions, at: StepContext): DocIssue[];
} {
  return {
    produces(o, { head }) {
      const split = modelStepSplit(o, head);
      return [{ token: `${tokenKind}:${o.model}:${split}`, output: outputName(o.model, split) }];
    },
    needs(o, { head }) {
      const split = modelStepSplit(o, head);
      return [
        {
          path: ['model'],
          token: `${input.tokenKind}:${o.model}:${split}`,
          missing: input.missing(o.model, split),
        },
      ];
    },
    check: (o, { head, step }) =>
      unknownSplits(o.split === undefined ? [] : [o.split], head, step).map((i) => ({ ...i, path: ['steps', step, 'split'] })),
  };
}

/** The latest artifact of `model` trained on `split`; when there is none, an InputError names its train step. */
export function requireModel(head: PipelineHead, model: string, split: string): LatestArtifact {
  return requireLatest(head.artifacts, modelArtifactName(model, split), `the train step of "${model}"`);
}

/** A unit's inputs when it reads one model artifact: its content, its version and its dataset. */
export function modelInputs(input: LatestArtifact): UnitInputs {
  return {
    identity: { model: contentHash(input.manifest) },
    lineage: [input.ref],
    tags: { 'recsys.dataset.sha256': input.manifest.dataset?.interactions_sha256 ?? '' },
  };
}
