import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { excerpt, InputError } from '../util/errors.js';
import { pipelineSchema, type PipelineHead } from './spec.js';
import { findStepKind, stepKinds, type PipelineStep } from './steps/registry.js';
import type { DocIssue, Produced } from './steps/step.js';
import { closest } from './suggest.js';
import { docIssues } from './zod-issues.js';

/** A validated pipeline file. */
export interface Pipeline {
  readonly head: PipelineHead;
  readonly steps: PipelineStep[];
}

type Path = ReadonlyArray<string | number>;

/**
 * Reads and validates a pipeline file. Every problem found is reported at once, each as
 * `FILE:LINE:COLUMN: PATH: what was expected` (an InputError: exit code 2). String values may
 * use `${VAR}` or `${VAR:-default}` to read the environment.
 */
export function loadPipeline(file: string): Pipeline {
  if (!existsSync(file)) throw new InputError(`${file}: no such pipeline file`);
  if (!statSync(file).isFile()) throw new InputError(`${file}: not a pipeline file (a directory or a device)`);
  const lines = new LineCounter();
  const doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter: lines });
  if (doc.errors.length > 0) {
    const first = doc.errors.map(
      (e) =>
        `${file}:${e.linePos?.[0].line ?? '?'}:${e.linePos?.[0].col ?? '?'}: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
    );
    // Later syntax errors mostly follow from the first.
    throw new InputError(`invalid YAML: ${first[0]}`);
  }
  const issues: DocIssue[] = [];
  const raw = interpolateEnv(toJS(file, doc), [], issues);
  const parsed = pipelineSchema.safeParse(raw);
  let pipeline: Pipeline | null = null;
  if (!parsed.success) issues.push(...docIssues(parsed.error, pipelineSchema));
  else {
    const { steps, name, ...rest } = parsed.data;
    const head: PipelineHead = { ...rest, file, name: name ?? defaultName(file) };
    pipeline = { head, steps: validateSteps(steps, head, issues) };
    issues.push(...checkGates(pipeline));
  }
  if (issues.length > 0 || !pipeline) throw new InputError(formatIssues(file, doc, lines, issues));
  return pipeline;
}

/** Aliases a pipeline file may expand: enough for any real file, too few for a billion laughs. */
const MAX_ALIAS_COUNT = 100;

function toJS(file: string, doc: Document): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // yaml throws a ReferenceError for an alias expanded too often (or not defined).
    if (err instanceof ReferenceError) throw new InputError(`invalid YAML: ${file}: ${err.message}`);
    throw err;
  }
}

function defaultName(file: string): string {
  return basename(file, extname(file)).replace(/[^A-Za-z0-9_.-]/g, '-');
}

function validateSteps(raw: readonly unknown[], head: PipelineHead, issues: DocIssue[]): PipelineStep[] {
  const steps: PipelineStep[] = [];
  const earlier: Array<Produced & { step: number }> = [];
  let earlierValid = true;
  raw.forEach((entry, step) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      issues.push({ path: ['steps', step], message: `expected a step (an object with a kind: ${stepKinds().join(', ')})` });
      earlierValid = false;
      return;
    }
    const { kind, ...options } = entry as Record<string, unknown>;
    const registered = typeof kind === 'string' ? findStepKind(kind) : undefined;
    if (!registered) {
      const guess = typeof kind === 'string' ? closest(kind, stepKinds()) : null;
      issues.push({
        path: kind === undefined ? ['steps', step] : ['steps', step, 'kind'],
        message: `${kind === undefined ? 'missing kind' : `unknown step kind ${typeof kind === 'string' ? excerpt(kind) : JSON.stringify(kind)}`}${guess ? ` (did you mean "${guess}"?)` : ''}; expected one of: ${stepKinds().join(', ')}`,
      });
      earlierValid = false;
      return;
    }
    const { step: validated, issues: found } = registered.validate(options, { head, step, earlier, earlierValid });
    issues.push(...found);
    if (!validated) {
      earlierValid = false;
      return;
    }
    for (const p of validated.produces) {
      const clash = earlier.find((e) => e.output === p.output);
      if (clash)
        issues.push({
          path: ['steps', step],
          message: `artifact "${p.output}" is also made by steps[${clash.step}]; give one of them another name`,
        });
      earlier.push({ ...p, step });
    }
    steps.push(validated);
  });
  return steps;
}

function checkGates({ head, steps }: Pipeline): DocIssue[] {
  const issues: DocIssue[] = [];
  const models = new Set(steps.flatMap((s) => s.produces.filter((p) => p.token.startsWith('model:')).map((p) => p.token.split(':')[1])));
  head.gates.forEach((g, i) => {
    if (g.split !== undefined && !(g.split in head.splits))
      issues.push({
        path: ['gates', i, 'split'],
        message: `unknown split "${g.split}" (the file's splits: ${Object.keys(head.splits).join(', ')})`,
      });
    if (g.model !== undefined && !models.has(g.model))
      issues.push({
        path: ['gates', i, 'model'],
        message: `no train step is named "${g.model}" (models: ${[...models].join(', ') || 'none'})`,
      });
    if (Object.keys(g.fail_under).length + Object.keys(g.max_drop).length === 0)
      issues.push({ path: ['gates', i], message: 'a gate needs fail_under or max_drop' });
    for (const [key, bound] of Object.entries(g.fail_under)) {
      const k = Number(key.split('@')[1]);
      if (!head.k.includes(k))
        issues.push({ path: ['gates', i, 'fail_under', key], message: `cut-off @${k} is not evaluated (k: ${head.k.join(', ')})` });
      if (!Number.isFinite(bound)) issues.push({ path: ['gates', i, 'fail_under', key], message: 'expected a finite number' });
    }
    for (const key of Object.keys(g.max_drop)) {
      const k = Number(key.split('@')[1]);
      if (!head.k.includes(k))
        issues.push({ path: ['gates', i, 'max_drop', key], message: `cut-off @${k} is not evaluated (k: ${head.k.join(', ')})` });
    }
  });
  if (head.gates.length > 0 && !steps.some((s) => s.kind === 'eval'))
    issues.push({ path: ['gates'], message: 'gates are checked by an eval step; the file has none' });
  return issues;
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces `${VAR}` and `${VAR:-default}` in every string value. */
function interpolateEnv(value: unknown, path: Path, issues: DocIssue[]): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_all, name: string, fallback: string | undefined) => {
      const v = process.env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      issues.push({ path, message: `environment variable ${name} is not set (write \${${name}:-default} for a default)` });
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, [...path, i], issues));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateEnv(v, [...path, k], issues)]));
  }
  return value;
}

/** `steps[2].params.factors` */
export function formatPath(path: Path): string {
  if (path.length === 0) return '(top level)';
  return path
    .map((p, i) =>
      typeof p === 'number' ? `[${p}]` : /^[A-Za-z_][\w-]*$/.test(p) ? `${i === 0 ? '' : '.'}${p}` : `[${JSON.stringify(p)}]`,
    )
    .join('');
}

/** Offset of what `path` names: a key's own position for map entries, else the nearest existing node. */
function offsetOf(doc: Document, path: Path): number {
  let node: unknown = doc.contents;
  let offset = 0;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
      if (!pair) break;
      offset = isScalar(pair.key) && pair.key.range ? pair.key.range[0] : offset;
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number' && key < node.items.length) {
      node = node.items[key];
      const range = (node as { range?: [number, number, number] } | null)?.range;
      if (range) offset = range[0];
    } else break;
  }
  return offset;
}

function formatIssues(file: string, doc: Document, lines: LineCounter, issues: DocIssue[]): string {
  const located = issues.map((issue) => ({ issue, offset: offsetOf(doc, issue.path) })).sort((a, b) => a.offset - b.offset);
  const text = located.map(({ issue, offset }) => {
    const { line, col } = lines.linePos(offset);
    return `${file}:${line}:${col}: ${formatPath(issue.path)}: ${issue.message}`;
  });
  return `invalid pipeline file (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n  ${text.join('\n  ')}`;
}
