/**
 * A report as data (text, figures, tables: core/report-types.ts), rendered to Markdown (figures as
 * linked .svg files) and to one self-contained HTML page (figures inline).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/checkpoint.js';
import type { ReportDoc } from '../core/report-types.js';

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The small Markdown subset the reports use: `code`, **bold**, *em*, [text](url), paragraphs, - lists. */
export function inlineHtml(text: string): string {
  return escapeHtml(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/\*([^*]+)\*/g, '<em>$1</em>')
    .replace(/\[([^\]]+)\]\(([^)]+)\)/g, '<a href="$2">$1</a>');
}

function textToHtml(markdown: string): string {
  return markdown
    .trim()
    .split(/\n\s*\n/)
    .map((para) => {
      const lines = para.split('\n');
      if (lines.every((l) => /^\s*- /.test(l))) {
        return `<ul>${lines.map((l) => `<li>${inlineHtml(l.replace(/^\s*- /, ''))}</li>`).join('')}</ul>`;
      }
      return `<p>${inlineHtml(lines.join(' '))}</p>`;
    })
    .join('\n');
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, '<br>');

export function renderMarkdown(doc: ReportDoc): string {
  const out: string[] = [`# ${doc.title}`, ''];
  for (const block of doc.blocks) {
    if (block.kind === 'text') out.push(block.markdown.trim(), '');
    if (block.kind === 'heading') out.push(`## ${block.text}`, '');
    if (block.kind === 'figure') {
      out.push(`![${block.figure.title}](${block.figure.id}.svg)`, '');
      if (block.figure.caption) out.push(`*${block.figure.caption}*`, '');
    }
    if (block.kind === 'table') {
      out.push(
        `| ${block.header.map(cell).join(' | ')} |`,
        `| ${block.header.map(() => '---').join(' | ')} |`,
      );
      for (const row of block.rows) out.push(`| ${row.map(cell).join(' | ')} |`);
      out.push('');
      if (block.caption) out.push(`*${block.caption}*`, '');
    }
  }
  return out.join('\n');
}

export function renderHtml(doc: ReportDoc): string {
  const body: string[] = [`<h1>${escapeHtml(doc.title)}</h1>`];
  for (const block of doc.blocks) {
    if (block.kind === 'text') body.push(textToHtml(block.markdown));
    if (block.kind === 'heading') body.push(`<h2>${escapeHtml(block.text)}</h2>`);
    if (block.kind === 'figure') {
      const caption = block.figure.caption
        ? `<figcaption>${inlineHtml(block.figure.caption)}</figcaption>`
        : '';
      body.push(`<figure id="${block.figure.id}">${block.figure.svg}${caption}</figure>`);
    }
    if (block.kind === 'table') {
      const head = `<tr>${block.header.map((h) => `<th>${inlineHtml(h)}</th>`).join('')}</tr>`;
      const rows = block.rows
        .map((r) => `<tr>${r.map((c) => `<td>${inlineHtml(c).replace(/\n/g, '<br>')}</td>`).join('')}</tr>`)
        .join('\n');
      const caption = block.caption ? `<caption>${inlineHtml(block.caption)}</caption>` : '';
      body.push(`<table>${caption}<thead>${head}</thead><tbody>${rows}</tbody></table>`);
    }
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(doc.title)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}th,td{border:1px solid #ccc;padding:4px 8px;vertical-align:top}
th{background:#f3f3f3}caption{caption-side:bottom;font-style:italic;padding-top:4px;text-align:left}
figure{margin:1.5em 0}figcaption{font-style:italic;font-size:0.9em}code{background:#f3f3f3;padding:0 3px}
</style></head><body>
${body.join('\n')}
</body></html>
`;
}

/** Writes <name>.md, <name>.html and one .svg per figure into `dir`; returns both paths. */
export function writeReport(
  doc: ReportDoc,
  dir: string,
  name = 'report',
): { markdown: string; html: string } {
  mkdirSync(dir, { recursive: true });
  for (const block of doc.blocks) {
    if (block.kind === 'figure') writeFileSync(join(dir, `${block.figure.id}.svg`), block.figure.svg);
  }
  const markdown = join(dir, `${name}.md`);
  const html = join(dir, `${name}.html`);
  writeFileAtomic(markdown, renderMarkdown(doc));
  writeFileAtomic(html, renderHtml(doc));
  return { markdown, html };
}
