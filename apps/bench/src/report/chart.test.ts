import { describe, expect, it } from 'vitest';
import { barChartSvg } from './chart.js';

describe('bar chart', () => {
  it('draws one bar per entry, longer for slower steps, on a log scale', () => {
    const svg = barChartSvg([
      { label: 'a <fast>', median: 1, min: 0.9, max: 1.2, group: 'wasm' },
      { label: 'b', median: 10, min: 9, max: 12, group: 'wasm' },
      { label: 'c', median: 100, min: 90, max: 120, group: 'cpu' },
    ]);
    const widths = [...svg.matchAll(/<rect class="bar" x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g)].map((m) =>
      Number(m[1]),
    );
    expect(widths).toHaveLength(3);
    // equal steps in log10 give equal steps in length
    expect(widths[1] - widths[0]).toBeCloseTo(widths[2] - widths[1], 6);
    expect(svg).toContain('a &lt;fast&gt;');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.endsWith('</svg>')).toBe(true);
  });
});
