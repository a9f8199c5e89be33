/** Number formatting shared by the terminal table, the Markdown summary and the page. */
export const fmtMs = (ms: number): string =>
  ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
export const fmtRange = (min: number, max: number): string => `${fmtMs(min)}–${fmtMs(max)}`;
export const fmtRatio = (r: number | undefined): string =>
  r === undefined ? '' : `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`;
export const fmtNum = (n: number, digits = 2): string => n.toFixed(digits);
export const fmtBytes = (b: number): string =>
  b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : b >= 1024 ? `${(b / 1024).toFixed(0)} KiB` : `${b} B`;
export const fmtGflops = (g: number): string => (g >= 1 ? g.toFixed(2) : g.toPrecision(2));
