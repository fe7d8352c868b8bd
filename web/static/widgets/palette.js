// palette.js mirrors viz/palette.go so that the screen and the exported
// PNG/SVG agree: the same anchor tables, evenly spaced over t in [0, 1],
// interpolated linearly in RGB with each channel rounded, and the same grey
// for missing (not yet computed) cells.

// viridis (matplotlib, CC0) sampled at every fifth of its 256 entries.
const viridis = [
  [68, 1, 84], [70, 8, 92], [71, 16, 99], [72, 23, 105],
  [72, 29, 111], [72, 36, 117], [71, 42, 122], [70, 48, 126],
  [69, 55, 129], [67, 61, 132], [65, 66, 135], [63, 72, 137],
  [61, 78, 138], [58, 83, 139], [56, 89, 140], [53, 94, 141],
  [51, 99, 141], [49, 104, 142], [46, 109, 142], [44, 113, 142],
  [42, 118, 142], [41, 123, 142], [39, 128, 142], [37, 132, 142],
  [35, 137, 142], [33, 142, 141], [32, 146, 140], [31, 151, 139],
  [30, 156, 137], [31, 161, 136], [33, 165, 133], [36, 170, 131],
  [40, 174, 128], [46, 179, 124], [53, 183, 121], [61, 188, 116],
  [70, 192, 111], [80, 196, 106], [90, 200, 100], [101, 203, 94],
  [112, 207, 87], [124, 210, 80], [137, 213, 72], [149, 216, 64],
  [162, 218, 55], [176, 221, 47], [189, 223, 38], [202, 225, 31],
  [216, 226, 25], [229, 228, 25], [241, 229, 29], [253, 231, 37],
];

// ColorBrewer PuOr, 11 classes, purple (negative) to orange (positive);
// rated safe for colour-blind readers.
const diverging = [
  [0x2d, 0x00, 0x4b], [0x54, 0x27, 0x88], [0x80, 0x73, 0xac],
  [0xb2, 0xab, 0xd2], [0xd8, 0xda, 0xeb], [0xf7, 0xf7, 0xf7],
  [0xfe, 0xe0, 0xb6], [0xfd, 0xb8, 0x63], [0xe0, 0x82, 0x14],
  [0xb3, 0x58, 0x06], [0x7f, 0x3b, 0x08],
];

/** missing is the colour of a cell with no value yet (viz.MissingColor). */
export const missing = [0x99, 0x99, 0x99];

function interpolate(anchors, t) {
  if (Number.isNaN(t)) return missing;
  t = Math.min(Math.max(t, 0), 1);
  const pos = t * (anchors.length - 1);
  const i = Math.min(Math.floor(pos), anchors.length - 2);
  const f = pos - i;
  const a = anchors[i], b = anchors[i + 1];
  return [0, 1, 2].map((k) => Math.round(a[k] + (b[k] - a[k]) * f));
}

/** viridisAt returns [r, g, b] for v on the range lo..hi. */
export function viridisAt(v, lo, hi) {
  return interpolate(viridis, hi > lo ? (v - lo) / (hi - lo) : 0.5);
}

/** divergingAt returns [r, g, b] for v on the symmetric range −lim..lim. */
export function divergingAt(v, lim) {
  return interpolate(diverging, lim > 0 ? (v + lim) / (2 * lim) : 0.5);
}

/** css turns [r, g, b] into a CSS colour. */
export function css(rgb) {
  return `rgb(${rgb[0]} ${rgb[1]} ${rgb[2]})`;
}

/** textOn returns black or white, whichever reads better on rgb (WCAG luminance). */
export function textOn(rgb) {
  const lin = (u) => {
    const s = u / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const l = 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2]);
  return l > 0.179 ? "#000" : "#fff";
}
