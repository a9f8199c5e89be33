/**
 * The page: runs each backend in its own frame (a fresh tfjs per backend), then shows the
 * results as a table and a chart, and offers them as JSON. `?autorun=1` starts at once.
 */
import { builtinConfigs, selectConfigs } from '../configs.js';
import type { FailedRow, ResultRow, SkippedRow } from '../core.js';
import { barChartSvg } from '../report/chart.js';
import { rowCells, TABLE_HEADER } from '../report/markdown.js';
import { assembleResults, type BackendReport, type BenchResults } from '../report/results.js';
import { type FrameMessage, type PageRequest, parseRequest, requestQuery } from './protocol.js';

declare global {
  interface Window {
    /** the last run's results, for scripts driving the page */
    benchResults?: BenchResults;
  }
}

const $ = (id: string) => document.getElementById(id)!;

function runFrame(request: PageRequest, backend: string): Promise<Extract<FrameMessage, { type: 'done' }>> {
  return new Promise((resolve, reject) => {
    const frame = document.createElement('iframe');
    frame.src = `run.html?${requestQuery(request, backend)}`;
    const onMessage = (e: MessageEvent<FrameMessage>) => {
      if (e.source !== frame.contentWindow) return;
      const m = e.data;
      if (m.type === 'progress') {
        $('status').textContent =
          `${m.event.backend} ${m.event.config}: ${m.event.done}/${m.event.total} steps`;
        return;
      }
      window.removeEventListener('message', onMessage);
      frame.remove();
      if (m.type === 'done') resolve(m);
      else reject(new Error(`${m.backend}: ${m.message}`));
    };
    window.addEventListener('message', onMessage);
    $('frames').append(frame);
  });
}

function render(results: BenchResults): void {
  const head = `<tr>${TABLE_HEADER.map((h) => `<th>${h}</th>`).join('')}</tr>`;
  const body = results.rows
    .map(
      (r) =>
        `<tr class="${r.ok ? 'ok' : 'fail'}">${rowCells(r)
          .map((c) => `<td>${c}</td>`)
          .join('')}</tr>`,
    )
    .join('');
  $('table').innerHTML = `<table id="results">${head}${body}</table>`;
  $('chart').innerHTML = barChartSvg(
    results.rows.map((r) => ({
      label: `${r.config} ${r.backend} ${r.impl} ${r.method}`,
      median: r.ms_median,
      min: r.ms_min,
      max: r.ms_max,
      group: r.backend,
    })),
  );
  const notes = [
    ...results.backends.map(
      (b) =>
        `${b.backend}: ${
          b.unavailable ??
          Object.entries(b.flags)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')
        }`,
    ),
    ...results.failed.map((f) => `FAILED: ${f.config} ${f.backend} ${f.impl} ${f.method}: ${f.error}`),
    ...results.skipped.map((s) => `not run: ${s.config} ${s.backend} ${s.impl} ${s.method}: ${s.reason}`),
  ];
  $('env').textContent = notes.join('\n');
  const blob = new Blob([JSON.stringify(results, null, 2)], { type: 'application/json' });
  $('download').innerHTML = `<a download="results.json" href="${URL.createObjectURL(blob)}">results.json</a>`;
}

async function run(request: PageRequest): Promise<void> {
  document.body.dataset.state = 'running';
  const rows: ResultRow[] = [];
  const skipped: SkippedRow[] = [];
  const failed: FailedRow[] = [];
  const backends: BackendReport[] = [];
  try {
    const configs = selectConfigs(request.configs, { ...builtinConfigs });
    for (const backend of request.backends) {
      const done = await runFrame(request, backend);
      backends.push(done.start);
      rows.push(...done.result.rows);
      skipped.push(...done.result.skipped);
      failed.push(...done.result.failed);
    }
    const results = assembleResults({
      date: new Date().toISOString(),
      machine: {
        userAgent: navigator.userAgent,
        hardwareConcurrency: navigator.hardwareConcurrency,
        crossOriginIsolated: self.crossOriginIsolated,
      },
      options: { ...request },
      configs,
      backends,
      rows,
      skipped,
      failed,
    });
    window.benchResults = results;
    render(results);
    $('status').textContent = 'done';
    document.body.dataset.state = 'done';
  } catch (err) {
    $('status').textContent = `error: ${(err as Error).message}`;
    document.body.dataset.state = 'error';
  }
}

const form = $('form') as HTMLFormElement;
const params = new URLSearchParams(location.search);
params.forEach((v, k) => {
  const input = form.elements.namedItem(k) as HTMLInputElement | null;
  if (input) input.value = v;
});
form.addEventListener('submit', (e) => {
  e.preventDefault();
  const data = new URLSearchParams();
  for (const k of ['configs', 'backends', 'impls', 'steps']) {
    data.set(k, (form.elements.namedItem(k) as HTMLInputElement).value);
  }
  for (const k of ['methods', 'ensembles', 'warmup', 'budget', 'seed', 'wasmThreads'])
    if (params.has(k)) data.set(k, params.get(k)!);
  void run(parseRequest(data));
});
if (params.get('autorun') === '1') void run(parseRequest(params));
