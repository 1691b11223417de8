import { Presets, SingleBar } from 'cli-progress';
import type { ProgressEvent, ProgressSink } from '../../lambda/index.js';
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

/** Where a pass is, in rows. */
export interface PassPosition {
  /** 1 for the phase's first pass, 2 when a second starts (abort moving back rows a writer moved). */
  readonly pass: number;
  /** `table.column` of this event. */
  readonly where: string;
  /** Rows of that column handled so far in this pass. */
  readonly rows: number;
  /** Share of the whole pass done, 0 to 100. */
  readonly percent: number;
  /** This event is the first of its column in this pass. */
  readonly columnBegan: boolean;
  /** Columns of the pass before that this event's new pass left unfinished. */
  readonly closed: readonly ColumnDone[];
  /** This event's column, when it has now handled every row it had when the pass began. */
  readonly finished?: ColumnDone;
}

/**
 * Follows the core's progress events by column and by pass. A pass may work on several columns at once,
 * so each column keeps its own count of rows; a new pass (a total that changes, or a count that goes
 * back) starts again from zero.
 */
export function passTracker(): {
  see(event: ProgressEvent): PassPosition;
  /** Columns begun and not finished, to report when the phase ends. */
  unfinished(): ColumnDone[];
} {
  let pass = 0;
  let total = -1;
  let done = 0;
  let columns = new Map<string, { rows: number; readonly columnRows: number; finished: boolean }>();
  const unfinished = () =>
    [...columns].filter(([, c]) => !c.finished).map(([where, c]) => ({ pass, where, rows: c.rows }));
  return {
    see(event) {
      let closed: ColumnDone[] = [];
      if (event.total !== total || event.done < done) {
        closed = unfinished();
        pass++;
        total = event.total;
        columns = new Map();
      }
      done = event.done;
      const where = `${event.table}.${event.column}`;
      const known = columns.get(where);
      const column = known ?? { rows: 0, columnRows: event.columnRows, finished: false };
      columns.set(where, column);
      column.rows = event.rows;
      const finishing = !column.finished && column.rows >= column.columnRows;
      if (finishing) column.finished = true;
      return {
        pass,
        where,
        rows: column.rows,
        percent: total > 0 ? Math.floor((done * 100) / total) : 100,
        columnBegan: known === undefined,
        closed,
        ...(finishing ? { finished: { pass, where, rows: column.rows } } : {}),
      };
    },
    unfinished,
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
        for (const c of tracker.unfinished()) columnDone(c);
        flush = () => {};
      };
      let lastTenth = -1;
      return (event) => {
        const at = tracker.see(event);
        for (const c of at.closed) columnDone(c);
        const tenth = Math.floor(at.percent / 10);
        if (at.columnBegan || tenth !== lastTenth || at.closed.length > 0) {
          lastTenth = tenth;
          out.write(`${passLabel(label, at.pass)}: ${at.percent}%, ${at.where}: ${at.rows} rows\n`);
        }
        if (at.finished) columnDone(at.finished);
      };
    },
    end: () => flush(),
  };
}
