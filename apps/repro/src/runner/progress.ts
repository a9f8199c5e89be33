/**
 * Progress on the terminal: one bar for the whole experiment and one per run in flight (loss,
 * accuracy, gradient norm, ETA). When stdout is not a TTY (CI, Slurm logs) it prints one line per
 * finished run instead.
 */
import cliProgress from 'cli-progress';
import type { ProgressMessage } from './task.js';

/**
 * The most per-run bars at once: a batched sweep (`--ensemble`) has up to 256 runs in flight, which
 * no terminal shows; the others are counted on the overall bar and get a bar when one frees.
 */
export const MAX_RUN_BARS = 12;

const fmt = (v: number | undefined, digits = 3) =>
  v === undefined || !Number.isFinite(v) ? '-' : v.toPrecision(digits);

export class ProgressView {
  private readonly tty: boolean;
  private multibar?: cliProgress.MultiBar;
  private overall?: cliProgress.SingleBar;
  private readonly bars = new Map<string, cliProgress.SingleBar>();
  /** runs in flight without a bar (over MAX_RUN_BARS) */
  private readonly unshown = new Set<string>();
  private finished = 0;

  constructor(
    private readonly total: number,
    already: number,
    tty = Boolean(process.stdout.isTTY) && !process.env.CI,
  ) {
    this.tty = tty;
    this.finished = already;
    if (!this.tty) return;
    this.multibar = new cliProgress.MultiBar(
      {
        clearOnComplete: false,
        hideCursor: true,
        format: '{name} {bar} {value}/{total} {unit} | {stats} | ETA {eta_formatted}',
        barsize: 24,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    this.overall = this.multibar.create(total, already, {
      name: 'all runs'.padEnd(36),
      unit: 'runs',
      stats: '',
    });
  }

  update(msg: ProgressMessage): void {
    if (!this.multibar) return;
    let bar = this.bars.get(msg.runId);
    const payload = {
      name: msg.runId.slice(-36).padEnd(36),
      unit: 'steps',
      stats: `loss ${fmt(msg.loss)} acc ${fmt(msg.accuracy)} |g| ${fmt(msg.gradNorm)}${msg.note ? ` ${msg.note}` : ''}`,
    };
    if (!bar) {
      if (this.bars.size >= MAX_RUN_BARS) {
        this.unshown.add(msg.runId);
        this.showUnshown();
        return;
      }
      this.unshown.delete(msg.runId);
      this.showUnshown();
      bar = this.multibar.create(msg.total, msg.step, payload);
      this.bars.set(msg.runId, bar);
    }
    bar.setTotal(msg.total);
    bar.update(msg.step, payload);
  }

  /** A line for the log, above the bars on a TTY. */
  log(text: string): void {
    if (this.multibar) this.multibar.log(`${text}\n`);
    else console.log(text);
  }

  /** The overall bar's count of runs in flight without a bar. */
  private showUnshown(): void {
    const n = this.unshown.size;
    this.overall?.update({ stats: n > 0 ? `${n} more run(s) in flight` : '' });
  }

  runFinished(runId: string, summary: string): void {
    this.finished += 1;
    this.removeBar(runId);
    this.overall?.update(this.finished);
    this.log(`[${this.finished}/${this.total}] ${runId}: ${summary}`);
  }

  runStopped(runId: string): void {
    this.removeBar(runId);
  }

  private removeBar(runId: string): void {
    this.unshown.delete(runId);
    const bar = this.bars.get(runId);
    if (bar && this.multibar) {
      this.multibar.remove(bar);
      this.bars.delete(runId);
    }
    this.showUnshown();
  }

  stop(): void {
    this.multibar?.stop();
  }
}
