import { z } from 'zod';
import type { DocIssue } from './steps/step.js';
import { unknownKeyMessage } from './suggest.js';

/**
 * zod's issues as problems at places in the document: paths made absolute, one issue per
 * unknown key (at that key, with the keys the schema knows there and a likely typo).
 */
export function docIssues(error: z.ZodError, schema: z.ZodTypeAny, prefix: ReadonlyArray<string | number> = []): DocIssue[] {
  const out: DocIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = objectKeys(schemaAt(schema, issue.path));
      for (const key of issue.keys) out.push({ path: [...prefix, ...issue.path, key], message: unknownKeyMessage(key, known) });
    } else if (issue.code === 'invalid_union_discriminator') {
      out.push({ path: [...prefix, ...issue.path], message: `expected one of ${issue.options.map(String).join(', ')}` });
    } else {
      out.push({ path: [...prefix, ...issue.path], message: issue.message === 'Required' ? 'required, missing' : issue.message });
    }
  }
  return out;
}

/** Unwraps optional, default, effects (refine/transform) and nullable layers. */
function unwrap(schema: z.ZodTypeAny): z.ZodTypeAny {
  let s = schema;
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap();
    else if (s instanceof z.ZodDefault) s = s.removeDefault();
    else if (s instanceof z.ZodEffects) s = s.innerType();
    else return s;
  }
}

/** The schema that validates the value at `path`, as far as it can be followed. */
export function schemaAt(schema: z.ZodTypeAny, path: ReadonlyArray<string | number>): z.ZodTypeAny {
  let s = unwrap(schema);
  for (const key of path) {
    if (s instanceof z.ZodObject && typeof key === 'string' && key in s.shape) s = unwrap(s.shape[key] as z.ZodTypeAny);
    else if (s instanceof z.ZodArray) s = unwrap(s.element);
    else if (s instanceof z.ZodRecord) s = unwrap(s.valueSchema);
    else return s;
  }
  return s;
}

function objectKeys(schema: z.ZodTypeAny): string[] {
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}
