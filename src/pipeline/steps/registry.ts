import { docIssues } from '../zod-issues.js';
import { evalStep } from './eval.js';
import { importStep } from './import.js';
import { indexStep } from './index.js';
import { publishStep } from './publish.js';
import { recommendStep } from './recommend.js';
import { splitStep } from './split.js';
import type { DocIssue, Produced, StepContext, StepKind, UnitPlan } from './step.js';
import { trainStep } from './train.js';

/** A step of the file, validated, with the units it will run. */
export interface PipelineStep {
  readonly kind: string;
  readonly index: number;
  readonly produces: Produced[];
  plan(): UnitPlan[];
}

interface RegisteredKind {
  readonly kind: string;
  readonly module: string;
  validate(options: unknown, at: StepContext): { step: PipelineStep | null; issues: DocIssue[] };
}

/** Hides each kind's options type behind a closure, so kinds of different option types share one list. */
function register<O>(k: StepKind<O>): RegisteredKind {
  return {
    kind: k.kind,
    module: k.module,
    validate(options, at) {
      const parsed = k.schema.safeParse(options);
      if (!parsed.success) return { step: null, issues: docIssues(parsed.error, k.schema, ['steps', at.step]) };
      const o = parsed.data;
      const made = new Set(at.earlier.map((p) => p.token));
      const issues: DocIssue[] = [
        ...(at.earlierValid ? k.needs(o, at) : [])
          .filter((n) => !made.has(n.token))
          .map((n) => ({ path: ['steps', at.step, ...n.path], message: n.missing })),
        ...(k.check?.(o, at) ?? []),
      ];
      return { step: { kind: k.kind, index: at.step, produces: k.produces(o, at), plan: () => k.plan(o, at) }, issues };
    },
  };
}

/** Every step kind a pipeline file may use, in the order a pipeline usually runs them. */
const STEP_KINDS: readonly RegisteredKind[] = [
  register(importStep),
  register(splitStep),
  register(trainStep),
  register(indexStep),
  register(evalStep),
  register(recommendStep),
  register(publishStep),
];

export function stepKinds(): string[] {
  return STEP_KINDS.map((k) => k.kind);
}

export function findStepKind(kind: string): RegisteredKind | undefined {
  return STEP_KINDS.find((k) => k.kind === kind);
}
