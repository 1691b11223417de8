import type { BaseDeps } from './deps.js';
import type { ProgressSink } from './ports.js';
import { parseEvent } from './rotation-event.js';
import { runStep, runSweep } from './steps.js';

/**
 * The part of the Lambda context rekey reads. Spelled out rather than picked from aws-lambda's types so
 * that the published declarations need no @types package.
 */
export interface RotationContext {
  getRemainingTimeInMillis(): number;
}

/**
 * The rotation function over given collaborators: parses the event and runs the step (or the sweep)
 * with the invocation's deadline. The Lambda entry, the local endpoints and the demo all use it.
 */
export function rotationFunction(deps: BaseDeps & { readonly progress?: ProgressSink }) {
  return async (event: unknown, context: RotationContext): Promise<void> => {
    const stepDeps = { ...deps, deadline: deps.clock.now() + context.getRemainingTimeInMillis() };
    try {
      const parsed = parseEvent(event);
      if ('action' in parsed) await runSweep(parsed, stepDeps);
      else await runStep(parsed, stepDeps);
    } catch (error) {
      // Names and messages only: rekey's errors never carry secret values, and SDK errors carry none.
      // The message goes under `reason`: Powertools Logger reserves `message` for the line's own text and
      // drops an extra key of that name.
      deps.log.error('step failed', { error: (error as Error).name, reason: (error as Error).message });
      throw error;
    }
  };
}
