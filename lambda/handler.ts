import type { Context } from 'aws-lambda';
import { readConfig } from './config.js';
import { createDeps } from './deps.js';
import { parseEvent } from './rotation-event.js';
import { runStep, runSweep } from './steps.js';

const deps = createDeps(readConfig(process.env));

/** The rotation Lambda: parses the event and runs the step (or the sweep). */
export const handler = async (
  event: unknown,
  context: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<void> => {
  const parsed = parseEvent(event);
  const stepDeps = { ...deps, deadline: deps.clock.now() + context.getRemainingTimeInMillis() };
  try {
    if ('action' in parsed) await runSweep(parsed, stepDeps);
    else await runStep(parsed, stepDeps);
  } catch (error) {
    // Names and messages only: rekey's errors never carry secret values, and SDK errors carry none.
    deps.log.error('step failed', { error: (error as Error).name, message: (error as Error).message });
    throw error;
  }
};
