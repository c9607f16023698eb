import type { TrainingData } from '../../data/training-data.js';
import { csrFromCoo, type Csr } from '../../matrix/csr.js';
import { InputError } from '../../util/errors.js';
import type { AlsWeight } from './params.js';

/** The users × items matrix of weights w (confidence 1 + alpha × w) for a `weight` setting. */
export function weightMatrix(data: TrainingData, weight: AlsWeight): Csr {
  const m = data.matrix;
  if (weight === 'count') return m;
  if (weight === 'one') return { ...m, data: new Float32Array(m.indices.length).fill(1) };
  const rating = data.train.rating;
  for (let r = 0; r < rating.length; r++) {
    if (!(rating[r] >= 0 && Number.isFinite(rating[r]))) {
      throw new InputError(
        `als --weight rating: training row ${r} (user ${data.train.userId[r]}, item ${data.train.itemId[r]}) has rating ${rating[r]}; weights must be finite and ≥ 0`,
      );
    }
  }
  // Same pairs as data.matrix; a pair's ratings are summed like its interaction count.
  return csrFromCoo(m.nRows, m.nCols, data.userIndex, data.itemIndex, rating);
}
