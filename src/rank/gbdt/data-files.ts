import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { tempPathFor } from '../../util/fs.js';
import type { FeatureRows, RankingData } from './ranking-data.js';

/**
 * Writers for the text inputs of the GBDT command-line programs. Labels and query groups are
 * optional so the same writers serve prediction inputs (label 0, no groups).
 */
export type DataFileInput = FeatureRows & Partial<Pick<RankingData, 'labels' | 'groupSizes'>>;

/** Writes lines in large chunks under a temporary name, renamed into place when complete. */
function writeTextFile(path: string, write: (emit: (s: string) => void) => void): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  const fd = openSync(tmp, 'w');
  try {
    let buf = '';
    write((s) => {
      buf += s;
      if (buf.length >= 1 << 22) {
        writeSync(fd, buf);
        buf = '';
      }
    });
    writeSync(fd, buf);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
}

function writeGroupFile(path: string, groupSizes: Int32Array): void {
  writeTextFile(path, (emit) => {
    for (const g of groupSizes) emit(`${g}\n`);
  });
}

/**
 * LightGBM TSV: label first, then every feature, NaN written as "nan"; query group sizes in
 * `<path>.query`, which LightGBM picks up by name. Numbers are JavaScript's shortest
 * round-trip form; with precise_float_parser=true LightGBM reads back the exact doubles.
 */
export function writeLightgbmTsv(path: string, data: DataFileInput): void {
  const { features, nRows, nFeatures, labels } = data;
  writeTextFile(path, (emit) => {
    for (let r = 0; r < nRows; r++) {
      let line = labels ? String(labels[r]) : '0';
      for (let j = r * nFeatures, end = j + nFeatures; j < end; j++) {
        const v = features[j];
        line += Number.isNaN(v) ? '\tnan' : `\t${v}`;
      }
      emit(`${line}\n`);
    }
  });
  if (data.groupSizes) writeGroupFile(`${path}.query`, data.groupSizes);
}

/**
 * XGBoost LibSVM with query ids: `label qid:q index:value ...`, 0-based feature indices.
 * Absent entries are missing values, so NaN features are left out; explicit zeros are kept
 * (XGBoost treats a present 0 as the value 0, not as missing).
 */
export function writeXgboostLibsvm(path: string, data: DataFileInput): void {
  const { features, nRows, nFeatures, labels, groupSizes } = data;
  writeTextFile(path, (emit) => {
    let q = 0;
    let leftInGroup = groupSizes && groupSizes.length > 0 ? groupSizes[0] : 0;
    for (let r = 0; r < nRows; r++) {
      let line = labels ? String(labels[r]) : '0';
      if (groupSizes) {
        while (leftInGroup === 0) leftInGroup = groupSizes[++q];
        line += ` qid:${q}`;
        leftInGroup--;
      }
      for (let j = 0; j < nFeatures; j++) {
        const v = features[r * nFeatures + j];
        if (!Number.isNaN(v)) line += ` ${j}:${float32Text(v)}`;
      }
      emit(`${line}\n`);
    }
  });
}

/**
 * The decimal text of v rounded to float32 that XGBoost's own number parser (dmlc-core's, not
 * correctly rounded) reads back as exactly that float32. Measured with python3-xgboost over
 * random float32 bit patterns: positional notation is exact for magnitudes in [1e-11, 1e19);
 * JavaScript's String() is positional in [1e-6, 1e21), so [1e-11, 1e-6) needs toFixed.
 * Outside that range no text form is read exactly (exponent forms come back a few ulps off,
 * long positional ones as 0), so those values keep String()'s exponent form.
 */
export function float32Text(v: number): string {
  const f = Math.fround(v);
  const a = Math.abs(f);
  if (a >= 1e-11 && a < 1e-6) return f.toFixed(9 - Math.floor(Math.log10(a)));
  return a >= 1e19 ? f.toExponential() : String(f);
}
