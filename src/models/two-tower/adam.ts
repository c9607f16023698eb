/**
 * Adam (Kingma & Ba 2015), with the bias correction folded into the step size:
 * p -= lr_t · m / (√v + ε), lr_t = lr · √(1 − β2^t) / (1 − β1^t). The update itself is the
 * kernels' (asm/two-tower.ts: denseAdam on the towers, sparseAdam on the rows of an
 * embedding table a batch touched — "lazy" Adam, as TensorFlow Addons' LazyAdam: an
 * untouched row keeps its moments, so a step costs O(batch), not O(table)).
 */
export const ADAM_BETA1 = 0.9;
export const ADAM_BETA2 = 0.999;
export const ADAM_EPS = 1e-8;

export function adamStepSize(lr: number, step: number): number {
  return (lr * Math.sqrt(1 - ADAM_BETA2 ** step)) / (1 - ADAM_BETA1 ** step);
}
