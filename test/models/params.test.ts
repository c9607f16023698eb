import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { paramSpecs, parseParams } from '../../src/models/params.js';
import { InputError } from '../../src/util/errors.js';

const schema = z
  .object({
    size: z.number().int().min(1).max(8).default(4).describe('how many'),
    rate: z.number().gt(0).lt(1).default(0.5).describe('how fast'),
    mode: z.enum(['a', 'b']).default('a').describe('which way'),
    on: z.boolean().default(true).describe('whether'),
  })
  .strict();

describe('model params schemas', () => {
  it('describe each key: kebab-case flag, type, choices, default and the accepted values in words', () => {
    expect(paramSpecs(schema).map(({ schema: _, ...spec }) => spec)).toEqual([
      { key: 'size', flag: 'size', type: 'integer', choices: null, default: 4, description: 'how many', expects: 'an integer in [1, 8]' },
      { key: 'rate', flag: 'rate', type: 'number', choices: null, default: 0.5, description: 'how fast', expects: 'a number in (0, 1)' },
      { key: 'mode', flag: 'mode', type: 'string', choices: ['a', 'b'], default: 'a', description: 'which way', expects: 'one of a, b' },
      { key: 'on', flag: 'on', type: 'boolean', choices: null, default: true, description: 'whether', expects: 'true or false' },
    ]);
  });

  it('refuse a key that is not snake_case, or has no default or no description', () => {
    const one = (field: z.ZodTypeAny, key = 'k') => paramSpecs(z.object({ [key]: field }).strict());
    expect(() => one(z.number().default(1).describe('x'), 'cgSteps')).toThrow('hyper-parameter cgSteps: not snake_case');
    expect(one(z.number().default(1).describe('x'), 'cg_steps')[0].flag).toBe('cg-steps');
    expect(() => one(z.number().describe('x'))).toThrow('hyper-parameter k: no .default()');
    expect(() => one(z.number().default(1))).toThrow('hyper-parameter k: no .describe()');
  });

  it('parse fills in defaults and names every bad key in one InputError', () => {
    expect(parseParams('m', schema, { size: 2 })).toEqual({ size: 2, rate: 0.5, mode: 'a', on: true });
    let error: unknown;
    try {
      parseParams('m', schema, { size: 9, rate: 1, mode: 'c', speed: 3 });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toBe(
      'm: size: expected an integer in [1, 8], got 9; rate: expected a number in (0, 1), got 1; ' +
        'mode: expected one of a, b, got "c"; unknown parameter "speed" (known: size, rate, mode, on)',
    );
  });
});
