import { z } from 'zod';
import { InputError } from '../util/errors.js';

/**
 * A model's hyper-parameters, declared once as a strict zod object whose every field has a
 * range, a `.default()` and a `.describe()`. Its keys are snake_case, as in pipeline files;
 * the CLI flag is the kebab-case form. The TypeScript type (z.infer), the defaults, the
 * validation of CLI options and pipeline files, `params()` and the docs table all come from it.
 */
export type ParamsSchema = z.ZodObject<z.ZodRawShape, 'strict'>;

/** What the CLI, the docs and error messages need to know of one hyper-parameter. */
export interface ParamSpec {
  readonly key: string;
  /** The CLI flag without its dashes: the key in kebab-case. */
  readonly flag: string;
  readonly type: 'integer' | 'number' | 'string' | 'boolean';
  /** The allowed values of an enumeration. */
  readonly choices: readonly string[] | null;
  readonly default: unknown;
  readonly description: string;
  /** The accepted values in words: "an integer in [1, 1024]", "one of one, count, rating". */
  readonly expects: string;
  /** Validates one value of this parameter alone (with the same messages as the whole object). */
  readonly schema: z.ZodTypeAny;
}

/** The fields of `schema`, in declaration order. Throws (a programming error) on a key not snake_case, or without default or description. */
export function paramSpecs(schema: ParamsSchema): ParamSpec[] {
  return Object.entries(schema.shape).map(([key, field]) => {
    if (!/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/.test(key)) throw new Error(`hyper-parameter ${key}: not snake_case`);
    if (!(field instanceof z.ZodDefault)) throw new Error(`hyper-parameter ${key}: no .default()`);
    const description = field.description;
    if (!description) throw new Error(`hyper-parameter ${key}: no .describe()`);
    const inner = field.removeDefault();
    const base = { key, flag: key.replaceAll('_', '-'), default: field._def.defaultValue(), description, schema: field };
    if (inner instanceof z.ZodNumber) {
      const integer = inner.isInt;
      return { ...base, type: integer ? 'integer' : 'number', choices: null, expects: numberRange(inner, integer) };
    }
    if (inner instanceof z.ZodEnum) {
      const choices = inner.options as string[];
      return { ...base, type: 'string', choices, expects: `one of ${choices.join(', ')}` };
    }
    if (inner instanceof z.ZodBoolean) return { ...base, type: 'boolean', choices: null, expects: 'true or false' };
    if (inner instanceof z.ZodString) return { ...base, type: 'string', choices: null, expects: 'a string' };
    throw new Error(`hyper-parameter ${key}: unsupported type ${inner.constructor.name}`);
  });
}

/** "an integer in [1, 1024]", "a number > 0", "a number in [0, 1)". */
function numberRange(n: z.ZodNumber, integer: boolean): string {
  const what = integer ? 'an integer' : 'a number';
  let lo: { value: number; inclusive: boolean } | null = null;
  let hi: { value: number; inclusive: boolean } | null = null;
  for (const check of n._def.checks) {
    if (check.kind === 'min') lo = check;
    if (check.kind === 'max') hi = check;
  }
  if (lo && hi) return `${what} in ${lo.inclusive ? '[' : '('}${lo.value}, ${hi.value}${hi.inclusive ? ']' : ')'}`;
  if (lo) return `${what} ${lo.inclusive ? '≥' : '>'} ${lo.value}`;
  if (hi) return `${what} ${hi.inclusive ? '≤' : '<'} ${hi.value}`;
  return what;
}

/** Error messages of a parameter's value in the words of its ParamSpec: "expected an integer ≥ 1, got -4". */
function errorMap(specs: readonly ParamSpec[]): z.ZodErrorMap {
  return (issue, ctx) => {
    const spec = issue.path.length === 1 ? specs.find((s) => s.key === issue.path[0]) : undefined;
    if (!spec || issue.code === 'unrecognized_keys') return { message: ctx.defaultError };
    return { message: `expected ${spec.expects}, got ${JSON.stringify(ctx.data)}` };
  };
}

/** Validates `raw` (the keys a user set) against `schema`, filling in the defaults. */
export function safeParseParams<S extends ParamsSchema>(schema: S, raw: unknown): z.SafeParseReturnType<unknown, z.infer<S>> {
  return schema.safeParse(raw, { errorMap: errorMap(paramSpecs(schema)) });
}

/** Validates `raw` against `schema`, filling in the defaults; an InputError names each bad key. */
export function parseParams<S extends ParamsSchema>(kind: string, schema: S, raw: unknown): z.infer<S> {
  const result = safeParseParams(schema, raw);
  if (result.success) return result.data;
  const known = Object.keys(schema.shape).join(', ');
  const problems = result.error.issues.map((issue) =>
    issue.code === 'unrecognized_keys'
      ? `unknown parameter ${issue.keys.map((k) => `"${k}"`).join(', ')} (known: ${known})`
      : `${issue.path.join('.') || '(params)'}: ${issue.message}`,
  );
  throw new InputError(`${kind}: ${problems.join('; ')}`);
}

/** A markdown table of the hyper-parameters: key, CLI flag, accepted values, default, meaning. */
export function paramsTable(schema: ParamsSchema): string {
  const specs = paramSpecs(schema);
  if (specs.length === 0) return 'No hyper-parameters.\n';
  const cell = (s: string): string => s.replaceAll('|', '\\|');
  const rows = specs.map(
    (s) => `| \`${s.key}\` | \`--${s.flag}\` | ${cell(s.expects)} | \`${JSON.stringify(s.default)}\` | ${cell(s.description)} |`,
  );
  return ['| key | CLI flag | values | default | meaning |', '| --- | --- | --- | --- | --- |', ...rows, ''].join('\n');
}
