import { Presets, SingleBar } from 'cli-progress';
import type { ProgressSink } from '../../lambda/index.js';
import type { Output } from './io.js';

/** Progress of the passes a command runs, one phase at a time. */
export interface ProgressReporter {
  /** A sink for one pass over the stored rows, labelled for the reader ('setSecret'). */
  phase(label: string): ProgressSink;
  /** Ends the current phase's bar or lines. */
  end(): void;
}

/** A reporter that shows nothing (`--json`). */
export const noProgress: ProgressReporter = { phase: () => () => {}, end: () => {} };

/**
 * Draws a bar (cli-progress) when `out` is a terminal, and otherwise prints a plain line at the start of
 * each column and every tenth of the pass, so that a piped log stays short and readable.
 */
export function progressReporter(out: Output): ProgressReporter {
  return out.isTTY ? barReporter(out) : lineReporter(out);
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
      return ({ table, column, done, total }) => {
        if (!bar) {
          bar = new SingleBar(
            {
              // cli-progress only writes to the stream and reads isTTY and columns from it.
              stream: out as unknown as NodeJS.WritableStream,
              format: `${label} [{bar}] {percentage}% | {value}/{total} rows | {where}`,
              hideCursor: true,
            },
            Presets.shades_classic,
          );
          bar.start(total, done, { where: `${table}.${column}` });
          return;
        }
        bar.setTotal(total);
        bar.update(done, { where: `${table}.${column}` });
      };
    },
    end,
  };
}

function lineReporter(out: Output): ProgressReporter {
  return {
    phase(label) {
      let lastWhere = '';
      let lastTenth = -1;
      return ({ table, column, done, total }) => {
        const where = `${table}.${column}`;
        const tenth = total > 0 ? Math.floor((done * 10) / total) : 10;
        if (where === lastWhere && tenth === lastTenth) return;
        lastWhere = where;
        lastTenth = tenth;
        const percent = total > 0 ? Math.floor((done * 100) / total) : 100;
        out.write(`${label}: ${done}/${total} rows (${percent}%), ${where}\n`);
      };
    },
    end: () => {},
  };
}
