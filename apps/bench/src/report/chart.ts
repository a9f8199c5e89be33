/**
 * A hand-made SVG bar chart of median step times with min–max whiskers, on a log scale (a
 * software WebGPU adapter is 100x slower than wasm). Browser-safe; returns markup.
 */
import { fmtMs } from './format.js';

export interface ChartBar {
  label: string;
  median: number;
  min: number;
  max: number;
  /** colour group (the backend) */
  group: string;
}

const COLOURS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1'];

const escapeXml = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export function barChartSvg(bars: ChartBar[], title = 'median ms per training step (log scale)'): string {
  if (bars.length === 0) return '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>';
  const labelW = 260;
  const plotW = 480;
  const rowH = 18;
  const top = 28;
  const width = labelW + plotW + 80;
  const height = top + bars.length * rowH + 30;
  const lo = Math.log10(Math.min(...bars.map((b) => b.min)) / 1.5);
  const hi = Math.log10(Math.max(...bars.map((b) => b.max)) * 1.5);
  const x = (ms: number) => labelW + ((Math.log10(ms) - lo) / (hi - lo)) * plotW;
  const groups = [...new Set(bars.map((b) => b.group))];
  const colour = (g: string) => COLOURS[groups.indexOf(g) % COLOURS.length];
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${escapeXml(title)}">`,
    `<text x="${labelW}" y="16">${escapeXml(title)}</text>`,
  ];
  for (let p = Math.ceil(lo); p <= Math.floor(hi); p++) {
    const gx = x(10 ** p);
    parts.push(
      `<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${height - 24}" stroke="#ddd"/>`,
      `<text x="${gx}" y="${height - 10}" text-anchor="middle">${fmtMs(10 ** p)} ms</text>`,
    );
  }
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    parts.push(
      `<text x="${labelW - 6}" y="${y + 12}" text-anchor="end">${escapeXml(b.label)}</text>`,
      `<rect class="bar" x="${labelW}" y="${y + 2}" width="${Math.max(1, x(b.median) - labelW)}" height="${rowH - 5}" fill="${colour(b.group)}"><title>${escapeXml(b.label)}: ${fmtMs(b.median)} ms (${fmtMs(b.min)}–${fmtMs(b.max)})</title></rect>`,
      `<line x1="${x(b.min)}" y1="${y + rowH / 2}" x2="${x(b.max)}" y2="${y + rowH / 2}" stroke="#222"/>`,
      `<text x="${x(b.max) + 4}" y="${y + 12}">${fmtMs(b.median)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}
