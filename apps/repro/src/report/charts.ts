/**
 * SVG charts as strings: d3-scale maps data to pixels (and picks ticks), d3-shape draws the lines.
 * No DOM is needed, so reports render in Node, in a worker, and in tests.
 */
import { type ScaleContinuousNumeric, scaleLinear, scaleLog } from 'd3-scale';
import { line } from 'd3-shape';

export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#76b7b2',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
];

export interface Axis {
  label: string;
  log?: boolean;
  domain?: [number, number];
}

export interface Series {
  name: string;
  points: [number, number][];
  color?: string;
  dashed?: boolean;
  /** draw a dot at every point */
  dots?: boolean;
  /** points to mark with a red cross (for example clipping events) */
  marks?: [number, number][];
}

export interface LineChartSpec {
  title: string;
  width?: number;
  height?: number;
  x: Axis;
  y: Axis;
  series: Series[];
}

const MARGIN = { left: 64, right: 160, top: 30, bottom: 46 };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const finite = (p: [number, number], ax: Axis, ay: Axis) =>
  Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!ax.log || p[0] > 0) && (!ay.log || p[1] > 0);

function extent(values: number[], log: boolean | undefined): [number, number] {
  const v = values.filter((x) => Number.isFinite(x) && (!log || x > 0));
  if (v.length === 0) return log ? [1, 10] : [0, 1];
  let lo = Math.min(...v);
  let hi = Math.max(...v);
  if (lo === hi) {
    if (log) [lo, hi] = [lo / 2, hi * 2];
    else [lo, hi] = [lo - 0.5, hi + 0.5];
  }
  return [lo, hi];
}

function makeScale(
  axis: Axis,
  values: number[],
  range: [number, number],
): ScaleContinuousNumeric<number, number> {
  const domain = axis.domain ?? extent(values, axis.log);
  const scale = axis.log ? scaleLog().domain(domain) : scaleLinear().domain(domain);
  if (!axis.domain && !axis.log) scale.nice();
  return scale.range(range);
}

function tickText(
  scale: ScaleContinuousNumeric<number, number>,
  log: boolean | undefined,
): { v: number; t: string }[] {
  const ticks = log
    ? scale.ticks(5).filter((t) => Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9)
    : scale.ticks(6);
  const format = log
    ? (v: number) => (v >= 1e4 || v < 1e-3 ? v.toExponential(0) : String(v))
    : scale.tickFormat(6);
  return ticks.map((v) => ({ v, t: format(v) }));
}

function axes(
  sx: ScaleContinuousNumeric<number, number>,
  sy: ScaleContinuousNumeric<number, number>,
  spec: { x: Axis; y: Axis },
  _w: number,
  h: number,
  grid = true,
): string {
  const out: string[] = [];
  const [x0, x1] = sx.range();
  const [y0, y1] = sy.range();
  out.push(`<line x1="${x0}" y1="${y0}" x2="${x1}" y2="${y0}" stroke="#333"/>`);
  out.push(`<line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y1}" stroke="#333"/>`);
  for (const { v, t } of tickText(sx, spec.x.log)) {
    const x = sx(v);
    out.push(`<line x1="${x}" y1="${y0}" x2="${x}" y2="${y0 + 4}" stroke="#333"/>`);
    out.push(`<text x="${x}" y="${y0 + 16}" text-anchor="middle">${esc(t)}</text>`);
  }
  for (const { v, t } of tickText(sy, spec.y.log)) {
    const y = sy(v);
    out.push(`<line x1="${x0 - 4}" y1="${y}" x2="${x0}" y2="${y}" stroke="#333"/>`);
    if (grid) out.push(`<line x1="${x0}" y1="${y}" x2="${x1}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${x0 - 6}" y="${y + 4}" text-anchor="end">${esc(t)}</text>`);
  }
  out.push(`<text x="${(x0 + x1) / 2}" y="${h - 8}" text-anchor="middle">${esc(spec.x.label)}</text>`);
  out.push(
    `<text transform="translate(14,${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">${esc(spec.y.label)}</text>`,
  );
  return out.join('');
}

function frame(title: string, w: number, h: number, inner: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" ` +
    `font-family="sans-serif" font-size="11"><rect width="${w}" height="${h}" fill="white"/>` +
    `<text x="${w / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>${inner}</svg>`
  );
}

function drawSeries(
  series: Series[],
  sx: (v: number) => number,
  sy: (v: number) => number,
  ax: Axis,
  ay: Axis,
): string {
  const out: string[] = [];
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const path = line<[number, number]>()
      .defined((p) => finite(p, ax, ay))
      .x((p) => sx(p[0]))
      .y((p) => sy(p[1]))(s.points);
    if (path) {
      out.push(
        `<path d="${path}" fill="none" stroke="${color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`,
      );
    }
    if (s.dots) {
      for (const p of s.points.filter((q) => finite(q, ax, ay))) {
        out.push(`<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="2.5" fill="${color}"/>`);
      }
    }
    for (const p of (s.marks ?? []).filter((q) => finite(q, ax, ay))) {
      const x = sx(p[0]);
      const y = sy(p[1]);
      out.push(
        `<path d="M${x - 3},${y - 3}L${x + 3},${y + 3}M${x - 3},${y + 3}L${x + 3},${y - 3}" stroke="#d62728"/>`,
      );
    }
  });
  return out.join('');
}

function legend(series: Series[], x: number, y: number): string {
  return series
    .map((s, i) => {
      const color = s.color ?? PALETTE[i % PALETTE.length];
      const yy = y + i * 16;
      return (
        `<line x1="${x}" y1="${yy}" x2="${x + 18}" y2="${yy}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>` +
        `<text x="${x + 24}" y="${yy + 4}">${esc(s.name)}</text>`
      );
    })
    .join('');
}

export function lineChart(spec: LineChartSpec): string {
  const w = spec.width ?? 640;
  const h = spec.height ?? 320;
  const xs = spec.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = spec.series.flatMap((s) => [...s.points, ...(s.marks ?? [])].map((p) => p[1]));
  const sx = makeScale(spec.x, xs, [MARGIN.left, w - MARGIN.right]);
  const sy = makeScale(spec.y, ys, [h - MARGIN.bottom, MARGIN.top]);
  const clip = `<clipPath id="plot"><rect x="${MARGIN.left}" y="${MARGIN.top}" width="${w - MARGIN.left - MARGIN.right}" height="${h - MARGIN.top - MARGIN.bottom}"/></clipPath>`;
  const body = `<g clip-path="url(#plot)">${drawSeries(spec.series, sx, sy, spec.x, spec.y)}</g>`;
  const hasMarks = spec.series.some((s) => (s.marks ?? []).length > 0);
  const markLegend = hasMarks
    ? `<path d="M${w - MARGIN.right + 16},${MARGIN.top + spec.series.length * 16 + 5}l6,6m-6,0l6,-6" stroke="#d62728"/><text x="${w - MARGIN.right + 40}" y="${MARGIN.top + spec.series.length * 16 + 12}">clipped</text>`
    : '';
  return frame(
    spec.title,
    w,
    h,
    clip +
      axes(sx, sy, spec, w, h) +
      body +
      legend(spec.series, w - MARGIN.right + 16, MARGIN.top + 4) +
      markLegend,
  );
}

export interface HeatmapSpec {
  title: string;
  width?: number;
  height?: number;
  x: Axis & { domain: [number, number] };
  y: Axis & { domain: [number, number] };
  /** values[row][col]: row 0 is the lowest y, col 0 the lowest x; NaN cells are left blank */
  values: number[][];
  color: { label: string; domain?: [number, number] };
  overlays?: Series[];
}

/** A heat map with a colour bar; overlays (lines, dots) are drawn in data coordinates on top. */
export function heatmap(spec: HeatmapSpec): string {
  const w = spec.width ?? 640;
  const h = spec.height ?? 420;
  const rows = spec.values.length;
  const cols = spec.values[0]?.length ?? 0;
  const sx = scaleLinear()
    .domain(spec.x.domain)
    .range([MARGIN.left, w - MARGIN.right]);
  const sy = scaleLinear()
    .domain(spec.y.domain)
    .range([h - MARGIN.bottom, MARGIN.top]);
  const all = spec.values.flat().filter(Number.isFinite);
  const [lo, hi] = spec.color.domain ?? extent(all, false);
  const color = scaleLinear<string>()
    .domain([lo, lo + (hi - lo) * 0.25, lo + (hi - lo) * 0.5, lo + (hi - lo) * 0.75, hi])
    .range(['#0d0887', '#7e03a8', '#cc4778', '#f89540', '#f0f921'])
    .clamp(true);
  const cw = (w - MARGIN.left - MARGIN.right) / cols;
  const ch = (h - MARGIN.top - MARGIN.bottom) / rows;
  // colours quantised to 64 levels and equal neighbours in a row merged: plateaus cost one rect
  const level = (v: number) => Math.max(0, Math.min(63, Math.floor(((v - lo) / (hi - lo || 1)) * 64)));
  const levelColor = (k: number) => color(lo + ((hi - lo) * (k + 0.5)) / 64);
  const cells: string[] = [];
  for (let r = 0; r < rows; r++) {
    const y = h - MARGIN.bottom - (r + 1) * ch;
    let c = 0;
    while (c < cols) {
      const v = spec.values[r][c];
      if (!Number.isFinite(v)) {
        c += 1;
        continue;
      }
      const k = level(v);
      let end = c + 1;
      while (end < cols && Number.isFinite(spec.values[r][end]) && level(spec.values[r][end]) === k) end += 1;
      const x = MARGIN.left + c * cw;
      cells.push(
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${((end - c) * cw + 0.4).toFixed(1)}" height="${(ch + 0.4).toFixed(1)}" fill="${levelColor(k)}"/>`,
      );
      c = end;
    }
  }
  // colour bar
  const bx = w - MARGIN.right + 16;
  const bar: string[] = [];
  const steps = 40;
  const bh = (h - MARGIN.top - MARGIN.bottom) / steps;
  for (let i = 0; i < steps; i++) {
    const v = lo + ((hi - lo) * (i + 0.5)) / steps;
    bar.push(
      `<rect x="${bx}" y="${(h - MARGIN.bottom - (i + 1) * bh).toFixed(2)}" width="14" height="${(bh + 0.3).toFixed(2)}" fill="${color(v)}"/>`,
    );
  }
  const cs = scaleLinear()
    .domain([lo, hi])
    .range([h - MARGIN.bottom, MARGIN.top]);
  for (const t of cs.ticks(5)) {
    bar.push(`<text x="${bx + 18}" y="${cs(t) + 4}">${esc(cs.tickFormat(5)(t))}</text>`);
  }
  bar.push(
    `<text transform="translate(${bx + 70},${(h - MARGIN.bottom + MARGIN.top) / 2}) rotate(90)" text-anchor="middle">${esc(spec.color.label)}</text>`,
  );
  const clip = `<clipPath id="hm"><rect x="${MARGIN.left}" y="${MARGIN.top}" width="${w - MARGIN.left - MARGIN.right}" height="${h - MARGIN.top - MARGIN.bottom}"/></clipPath>`;
  const overlays = spec.overlays ? drawSeries(spec.overlays, sx, sy, spec.x, spec.y) : '';
  const overlayLegend = spec.overlays
    ? legend(
        spec.overlays.filter((s) => s.name),
        MARGIN.left + 8,
        MARGIN.top + 12,
      ).replace(/<text /g, '<text fill="white" ')
    : '';
  return frame(
    spec.title,
    w,
    h,
    `${clip}<g clip-path="url(#hm)">${cells.join('')}${overlays}</g>${axes(sx, sy, spec, w, h, false)}${bar.join('')}${overlayLegend}`,
  );
}
