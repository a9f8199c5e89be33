/** A report as data (text, figures, tables): what experiments build and report/doc.ts renders. */

export interface Figure {
  /** file name stem: <id>.svg */
  id: string;
  title: string;
  svg: string;
  caption?: string;
}

export type Block =
  | { kind: 'text'; markdown: string }
  | { kind: 'heading'; text: string }
  | { kind: 'figure'; figure: Figure }
  | { kind: 'table'; header: string[]; rows: string[][]; caption?: string };

export interface ReportDoc {
  title: string;
  blocks: Block[];
}
