import { readFileSync } from 'node:fs';
import { InputError } from '../../util/errors.js';
import { parseLightgbmModel } from './lightgbm-model.js';
import type { GbdtModel } from './engine.js';
import { parseXgboostModel } from './xgboost-model.js';

/**
 * Parses a model file's text, detecting the format: LightGBM's text model starts with the line
 * "tree"; XGBoost's JSON model is a JSON object. `source` names the file in error messages.
 */
export function parseGbdtModel(text: string, source: string): GbdtModel {
  const start = text.trimStart();
  if (start.startsWith('{')) return parseXgboostModel(text, source);
  if (/^tree\r?\n/.test(start)) return parseLightgbmModel(text, source);
  throw new InputError(
    `${source}: neither a LightGBM text model (first line "tree") nor an XGBoost JSON model; ` +
      'save XGBoost models as JSON (model_out=model.json), not in the binary or UBJSON format',
  );
}

export function loadGbdtModel(path: string): GbdtModel {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`${path}: cannot read model file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseGbdtModel(text, path);
}
