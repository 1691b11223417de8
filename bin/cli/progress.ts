import { Presets, SingleBar } from 'cli-progress';
import type { ProgressSink } from '../../lambda/index.js';
import type { Output } from './io.js';

/** Progress of the passes a command runs, one phase at a time. */
export interface ProgressReporter {
  /**
   * A sink for one phase ('setSecret'): one or more passes over the stored rows, each shown on its own
   * bar (or its own lines).
   */
  phase(label: string): ProgressSink;
  /** Ends the current phase's bar or lines. */
  end(): void;
}

/** A reporter that shows nothing (`--json`). */
export const noProgress: ProgressReporter = { phase: () => () => {}, end: () => {} };

/** A column's rows once the pass has moved on from it. */
export interface ColumnDone {
  readonly pass: number;
  /** `table.column`. */
  readonly where: string;
  readonly rows: number;
}

/** Where a pass is, in rows: the core reports values over all columns of a pass; this counts rows. */
export interface PassPosition {
  /** 1 for the phase's first pass, 2 when a second starts (abort moving back rows a writer moved). */
  readonly pass: number;
  /** `table.column` being handled. */
  readonly where: string;
  /** Rows of that table handled so far in that column. */
  readonly rows: number;
  /** Share of the whole pass done, 0 to 100. */
  readonly percent: number;
  /** This event is the first of its column (or of its pass). */
  readonly columnBegan: boolean;
  /** The column before, when this event moved on from it (to another column or another pass). */
  readonly finished?: ColumnDone;
}

/**
 * Turns the core's progress events into rows and passes. The core counts each value of a pass once, so
 * a table with three encrypted columns adds three per row; it walks one column at a time, so the rows of
 * a table handled so far are the values handled since its current column began. A new pass (a total
 * that changes, or a count that goes back) starts again from zero.
 */
export function passTracker(): {
  see(event: Parameters<ProgressSink>[0]): PassPosition;
  /** The column in progress, to report when the phase ends. */
  last(): ColumnDone | undefined;
} {
  let pass = 0;
  let total = -1;
  let done = 0;
  let columnStart = 0;
  let current: ColumnDone | undefined;
  return {
    see(event) {
      const before = current;
      if (event.total !== total || event.done < done) {
        pass++;
        total = event.total;
        done = 0;
        current = undefined;
      }
      const where = `${event.table}.${event.column}`;
      const columnBegan = current?.where !== where;
      if (columnBegan) columnStart = done;
      done = event.done;
      current = { pass, where, rows: done - columnStart };
      const finished = before && (before.where !== where || before.pass !== pass) ? before : undefined;
      return {
        pass,
        where,
        rows: current.rows,
        percent: total > 0 ? Math.floor((done * 100) / total) : 100,
        columnBegan,
        ...(finished ? { finished } : {}),
      };
    },
    last: () => current,
  };
}

/**
 * Draws a bar (cli-progress) per pass when `out` is a terminal, and otherwise prints a plain line when a
 * column begins and ends and every tenth of the pass, so that a piped log stays short and readable.
 */
export function progressReporter(out: Output): ProgressReporter {
  return out.isTTY ? barReporter(out) : lineReporter(out);
}

function passLabel(label: string, pass: number): string {
  return pass > 1 ? `${label} (pass ${pass})` : label;
}

function barReporter(out: Output): ProgressReporter {
  let bar: SingleBar | undefined;
  const end = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    phase(label) {
      end();
      const tracker = passTracker();
      let pass = 0;
      return (event) => {
        const at = tracker.see(event);
        const fields = { where: at.where, rows: at.rows };
        if (at.pass !== pass) {
          end();
          pass = at.pass;
          bar = new SingleBar(
            {
              // cli-progress only writes to the stream and reads isTTY and columns from it.
              stream: out as unknown as NodeJS.WritableStream,
              format: `${passLabel(label, pass)} [{bar}] {percentage}% | {where}: {rows} rows`,
              hideCursor: true,
            },
            Presets.shades_classic,
          );
          // The bar's own value and total are the core's counts; only the share and rows are shown.
          bar.start(event.total, event.done, fields);
          return;
        }
        bar?.update(event.done, fields);
      };
    },
    end,
  };
}

function lineReporter(out: Output): ProgressReporter {
  let flush = () => {};
  return {
    phase(label) {
      flush();
      const tracker = passTracker();
      const columnDone = (c: ColumnDone) =>
        out.write(`${passLabel(label, c.pass)}: ${c.where}: ${c.rows} rows done\n`);
      flush = () => {
        const last = tracker.last();
        if (last) columnDone(last);
        flush = () => {};
      };
      let lastTenth = -1;
      return (event) => {
        const at = tracker.see(event);
        if (at.finished) columnDone(at.finished);
        const tenth = Math.floor(at.percent / 10);
        if (!at.columnBegan && tenth === lastTenth) return;
        lastTenth = tenth;
        out.write(`${passLabel(label, at.pass)}: ${at.percent}%, ${at.where}: ${at.rows} rows\n`);
      };
    },
    end: () => flush(),
  };
}
