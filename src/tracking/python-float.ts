/**
 * A double written as Python's `repr(float)` writes it: MLflow's file store writes metric
 * values with `f"{value}"`, so the files we write are the bytes MLflow itself would write.
 * Shortest round-trip digits (as in JavaScript), but Python switches to exponent notation when
 * the decimal exponent is below -4 or above 15, pads the exponent to two digits, and adds
 * `.0` to integral values.
 */
export function formatPythonFloat(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';

  const sign = value < 0 ? '-' : '';
  // toExponential() without an argument gives the shortest digits that round-trip.
  const [mantissa, exp] = Math.abs(value).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exponent = Number(exp);
  const pointAt = exponent + 1; // digits are 0.d1d2... × 10^pointAt

  if (pointAt < -3 || pointAt > 16) {
    const frac = digits.length > 1 ? `.${digits.slice(1)}` : '';
    const expSign = exponent < 0 ? '-' : '+';
    return `${sign}${digits[0]}${frac}e${expSign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (pointAt <= 0) return `${sign}0.${'0'.repeat(-pointAt)}${digits}`;
  if (pointAt >= digits.length) return `${sign}${digits}${'0'.repeat(pointAt - digits.length)}.0`;
  return `${sign}${digits.slice(0, pointAt)}.${digits.slice(pointAt)}`;
}
