// Decoding of viz.Quantized arrays (viz/quantize.go): one byte per value on
// a linear scale from min (code 0) to max (code 254), 255 = not computed
// (NaN), base64 in the field "q". On a scale from min = 0 the encoder gives
// code 0 only to values that are exactly 0 (a tiny positive value takes code
// 1), so a decoded 0 there means "exactly zero"; decoding needs no special
// case for it.

const LEVELS = 255;
const MISSING = 255;

/**
 * dequantize turns {shape, min, max, q} into a Float64Array (NaN where a
 * value is missing). It throws on data that does not match its shape.
 */
export function dequantize(quant) {
  const bin = atob(quant.q);
  const n = quant.shape.reduce((a, b) => a * b, 1);
  if (bin.length !== n) {
    throw new Error(`quantized data has ${bin.length} values for shape ${quant.shape}`);
  }
  const out = new Float64Array(n);
  const step = (quant.max - quant.min) / (LEVELS - 1);
  for (let i = 0; i < n; i++) {
    const c = bin.charCodeAt(i);
    out[i] = c === MISSING ? NaN : quant.min + c * step;
  }
  return out;
}
