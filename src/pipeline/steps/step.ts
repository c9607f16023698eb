import type { z } from 'zod';
import type { ArtifactRef } from '../../artifacts/store.js';
import type { Metrics } from '../../eval/evaluate.js';
import type { TrackedRun } from '../../tracking/index.js';
import type { PipelineHead } from '../spec.js';

/**
 * What a step kind provides to the runner. A step of the file becomes one or more units
 * (e.g. one per split); each unit writes one output (an artifact under the root, or the
 * dataset directory) and is skipped when the fingerprint of its config, inputs and code equals
 * the one recorded by the output's last successful run.
 *
 * Adding a step kind: one module exporting a `StepKind`, listed in steps/registry.ts.
 */
export interface StepKind<O> {
  readonly kind: string;
  /** The URL of the module defining it (its `import.meta.url`): a unit's fingerprint includes the code it reaches. */
  readonly module: string;
  /** The step's options (every key but `kind`); unknown keys are errors. */
  readonly schema: z.ZodType<O, z.ZodTypeDef, unknown>;
  /** What the step makes, as tokens later steps may need (see `Need`). */
  produces(options: O, at: StepContext): Produced[];
  /** What the step needs from steps before it, and where in the step it is named. */
  needs(options: O, at: StepContext): Need[];
  /** Other checks of the file (e.g. an input that does not exist), with paths from the document root. */
  check?(options: O, at: StepContext): DocIssue[];
  plan(options: O, at: StepContext): UnitPlan[];
}

/** Where a step sits in its file. */
export interface StepContext {
  readonly head: PipelineHead;
  /** Index in `steps`. */
  readonly step: number;
  /** What the steps before it make. */
  readonly earlier: readonly Produced[];
  /** False when a step before it was invalid: what it makes is unknown, so missing inputs are not reported. */
  readonly earlierValid: boolean;
}

/** A problem at a place in the pipeline file. */
export interface DocIssue {
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
}

/** A thing a step makes: "split:temporal", "model:als:temporal", "index:..."; `output` is the artifact name. */
export interface Produced {
  readonly token: string;
  readonly output: string;
}

export interface Need {
  /** Path inside the step, e.g. ["splits", 0]. */
  readonly path: ReadonlyArray<string | number>;
  readonly token: string;
  /** The message when no earlier step makes it. */
  readonly missing: string;
}

/** A row of the final metrics table (and, from eval steps, what the gates check). */
export interface ReportRow {
  /** The split name in the file. */
  readonly split: string;
  /** The protocol label metrics are recorded under, e.g. "temporal frac=0.8". */
  readonly protocol: string;
  /** Row label: the model, or the serving stage ("als via IVF64,Flat"). */
  readonly name: string;
  /** The train step name, for gates. */
  readonly model?: string;
  readonly artifact?: ArtifactRef;
  readonly metrics: Metrics;
}

export interface UnitInputs {
  /** Content identity of the inputs (sha256s, input artifacts' file hashes): hashed into the fingerprint. */
  readonly identity: Record<string, unknown>;
  /** Artifact versions consumed. */
  readonly lineage: ArtifactRef[];
  /** MLflow tags, e.g. recsys.dataset.sha256. */
  readonly tags: Record<string, string>;
}

/** What the runner hands a unit that must run. */
export interface UnitWork {
  readonly fingerprint: string;
  readonly lineage: ArtifactRef[];
  /** Recorded as `details.pipeline` in the manifest (fingerprint, previous latest, ...). */
  readonly details: Record<string, unknown>;
  readonly run: TrackedRun;
  /**
   * Moves the unit's log (run.log.jsonl) into its output: a unit calls it on its new version
   * before the version is complete (`createArtifact`'s `finish`), so the manifest lists the
   * log and `latest` moves last; the import step on the dataset directory.
   */
  readonly finish: (dir: string) => Promise<void>;
  /** Tells the rows the unit processed (interactions imported, split, recommendations written), for monitoring. */
  readonly processed: (rows: number) => void;
}

/** The state a unit's output was made from. */
export interface UnitState {
  readonly fingerprint: string | null;
  /** The output directory (the latest version, or the dataset directory). */
  readonly dir: string;
  /** The version `latest` points at, for artifacts. */
  readonly version: string | null;
}

export interface UnitPlan {
  readonly step: number;
  readonly kind: string;
  /** "train als-temporal": progress lines, MLflow run name. */
  readonly label: string;
  /** The artifact name under the root, or the dataset directory (import). */
  readonly output: string;
  /** Checks, before any unit runs, that an output outside the artifact root may be written (util/output.ts). */
  claim?(): void;
  readonly split?: string;
  /** The unit's settings: MLflow params, and hashed into the fingerprint. */
  readonly config: Record<string, unknown>;
  /** Reads the inputs; an input that does not exist is an InputError naming the step that makes it. */
  inputs(): Promise<UnitInputs>;
  /** The output's current state, or null when there is none yet. */
  current(): UnitState | null;
  /** Does the work; returns the directory written. */
  run(work: UnitWork): Promise<string>;
  /** Rows for the final table, read from an output directory (fresh or skipped). */
  report(dir: string): ReportRow[];
}
