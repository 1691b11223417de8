import jsonata from 'jsonata';

/**
 * A small interpreter of Amazon States Language in JSONata mode, enough to run rekey's restart workflow
 * from the synthesized template against fake services: Pass, Task (Arguments, Output, Assign, Retry,
 * Catch), Wait, Choice (rules with Output and Assign), inline Map (Items, ItemProcessor, iteration-scoped
 * variables), Succeed and Fail. It follows the service's documented rules where the workflow relies on
 * them: every Assign of a state is evaluated before any is applied, an expression that yields nothing
 * fails with States.QueryEvaluationError, States.TaskFailed matches every error but States.Timeout, the
 * first retrier whose ErrorEquals matches decides (MaxAttempts 0: none). It does not sleep: waits and
 * retries are recorded instead.
 */

/** A task's failure, as a service integration reports it. */
export class TaskError extends Error {
  constructor(
    readonly error: string,
    readonly causeText = '',
  ) {
    super(`${error}: ${causeText}`);
    this.name = 'TaskError';
  }
}

/** What a Task state calls: its Resource (partition resolved) and its evaluated Arguments. */
export type Integration = (resource: string, args: Record<string, unknown>) => unknown;

/** How an execution ended, and what happened on the way. */
export interface Execution {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
  /** Seconds of every Wait state entered, in order. */
  readonly waits: number[];
  /** Every retry, in order: the state retried and the error that made it retry. */
  readonly retries: { state: string; error: string }[];
}

/** A state machine definition, as Step Functions reads it. */
export interface StateMachine {
  readonly StartAt: string;
  readonly States: Record<string, State>;
}

interface Retrier {
  readonly ErrorEquals: string[];
  readonly MaxAttempts?: number;
}

interface Catcher {
  readonly ErrorEquals: string[];
  readonly Next: string;
  readonly Output?: unknown;
  readonly Assign?: Record<string, unknown>;
}

interface ChoiceRule {
  readonly Condition: string;
  readonly Next: string;
  readonly Output?: unknown;
  readonly Assign?: Record<string, unknown>;
}

interface State {
  readonly Type: 'Pass' | 'Task' | 'Wait' | 'Choice' | 'Map' | 'Succeed' | 'Fail';
  readonly Next?: string;
  readonly End?: boolean;
  readonly Output?: unknown;
  readonly Assign?: Record<string, unknown>;
  readonly Resource?: string;
  readonly Arguments?: Record<string, unknown>;
  readonly Retry?: Retrier[];
  readonly Catch?: Catcher[];
  readonly Seconds?: number;
  readonly Choices?: ChoiceRule[];
  readonly Default?: string;
  readonly Items?: unknown;
  readonly ItemProcessor?: StateMachine;
  readonly Error?: string;
  readonly Cause?: string;
}

/** Variables of one scope; an iteration's scope reads its parent's. */
class Scope {
  private readonly own = new Map<string, unknown>();
  constructor(private readonly parent?: Scope) {}
  bindings(): Record<string, unknown> {
    return { ...this.parent?.bindings(), ...Object.fromEntries(this.own) };
  }
  set(values: Record<string, unknown>): void {
    for (const [k, v] of Object.entries(values)) this.own.set(k, v);
  }
}

interface Frame {
  readonly input?: unknown;
  readonly result?: unknown;
  readonly errorOutput?: unknown;
}

const MAX_TRANSITIONS = 100_000;

/**
 * Runs `definition` (the state machine's DefinitionString, partition and other tokens already
 * resolved) on `input`, calling `integration` for every Task.
 */
export async function runStateMachine(
  definition: StateMachine,
  input: unknown,
  integration: Integration,
): Promise<Execution> {
  const waits: number[] = [];
  const retries: { state: string; error: string }[] = [];
  try {
    const output = await runStates(definition, input, new Scope(), integration, { waits, retries });
    return { status: 'SUCCEEDED', output, waits, retries };
  } catch (error) {
    if (error instanceof Failed) {
      return { status: 'FAILED', error: error.error, cause: error.causeText, waits, retries };
    }
    throw error;
  }
}

class Failed extends Error {
  constructor(
    readonly error: string,
    readonly causeText: string,
  ) {
    super(`${error}: ${causeText}`);
  }
}

interface Trace {
  readonly waits: number[];
  readonly retries: { state: string; error: string }[];
}

async function runStates(
  machine: StateMachine,
  input: unknown,
  scope: Scope,
  integration: Integration,
  trace: Trace,
): Promise<unknown> {
  let name = machine.StartAt;
  let value = input;
  for (let step = 0; step < MAX_TRANSITIONS; step++) {
    const state = machine.States[name];
    if (state === undefined) throw new Error(`no state named ${name}`);
    const { next, output } = await runState(name, state, value, scope, integration, trace);
    if (next === undefined) return output;
    name = next;
    value = output;
  }
  throw new Error(`more than ${MAX_TRANSITIONS} transitions`);
}

async function runState(
  name: string,
  state: State,
  input: unknown,
  scope: Scope,
  integration: Integration,
  trace: Trace,
): Promise<{ next?: string; output: unknown }> {
  const after = (output: unknown) => ({ next: state.End ? undefined : state.Next, output });
  switch (state.Type) {
    case 'Pass':
      return after(await finish(state, { input }, input, scope));
    case 'Wait':
      trace.waits.push(state.Seconds ?? 0);
      return after(await finish(state, { input }, input, scope));
    case 'Succeed':
      return { output: input };
    case 'Fail':
      throw new Failed(
        String(await evaluate(state.Error ?? '', { input }, scope)),
        String(await evaluate(state.Cause ?? '', { input }, scope)),
      );
    case 'Choice': {
      for (const rule of state.Choices ?? []) {
        if ((await evaluate(rule.Condition, { input }, scope)) === true) {
          return { next: rule.Next, output: await finish(rule, { input }, input, scope) };
        }
      }
      if (state.Default === undefined) throw new Failed('States.NoChoiceMatched', name);
      return { next: state.Default, output: input };
    }
    case 'Map': {
      const items = (await evaluate(state.Items, { input }, scope)) as unknown[];
      const processor = state.ItemProcessor;
      if (!Array.isArray(items) || processor === undefined) throw new Error(`${name}: bad Map`);
      const result = await Promise.all(
        items.map((item) => runStates(processor, item, new Scope(scope), integration, trace)),
      );
      return after(await finish(state, { input, result }, result, scope));
    }
    case 'Task':
      return runTask(name, state, input, scope, integration, trace);
  }
}

async function runTask(
  name: string,
  state: State,
  input: unknown,
  scope: Scope,
  integration: Integration,
  trace: Trace,
): Promise<{ next?: string; output: unknown }> {
  const args = (await evaluate(state.Arguments ?? {}, { input }, scope)) as Record<string, unknown>;
  const attempts = new Map<Retrier, number>();
  for (;;) {
    try {
      const result = await integration(state.Resource ?? '', args);
      const output = await finish(state, { input, result }, result, scope);
      return { next: state.End ? undefined : state.Next, output };
    } catch (thrown) {
      if (!(thrown instanceof TaskError)) throw thrown;
      const retrier = (state.Retry ?? []).find((r) => matches(r.ErrorEquals, thrown.error));
      const used = retrier === undefined ? 0 : (attempts.get(retrier) ?? 0);
      if (retrier !== undefined && used < (retrier.MaxAttempts ?? 3)) {
        attempts.set(retrier, used + 1);
        trace.retries.push({ state: name, error: thrown.error });
        continue;
      }
      const catcher = (state.Catch ?? []).find((c) => matches(c.ErrorEquals, thrown.error));
      if (catcher === undefined) throw new Failed(thrown.error, thrown.causeText);
      const errorOutput = { Error: thrown.error, Cause: thrown.causeText };
      const output = await finish(catcher, { input, errorOutput }, errorOutput, scope);
      return { next: catcher.Next, output };
    }
  }
}

function matches(errorEquals: readonly string[], error: string): boolean {
  return errorEquals.some(
    (e) => e === error || e === 'States.ALL' || (e === 'States.TaskFailed' && error !== 'States.Timeout'),
  );
}

/** Evaluates Assign (all before any is set) and Output; returns the state's output. */
async function finish(
  fields: { readonly Output?: unknown; readonly Assign?: Record<string, unknown> },
  frame: Frame,
  fallback: unknown,
  scope: Scope,
): Promise<unknown> {
  const assigned = fields.Assign === undefined ? undefined : await evaluate(fields.Assign, frame, scope);
  const output = fields.Output === undefined ? fallback : await evaluate(fields.Output, frame, scope);
  if (assigned !== undefined) scope.set(assigned as Record<string, unknown>);
  return output;
}

const EXPRESSION = /^\{%(.*)%\}$/s;

async function evaluate(value: unknown, frame: Frame, scope: Scope): Promise<unknown> {
  if (typeof value === 'string') {
    const match = EXPRESSION.exec(value);
    if (!match) return value;
    const result = await jsonata(match[1] ?? '').evaluate({}, { ...scope.bindings(), states: frame });
    if (result === undefined) throw new Failed('States.QueryEvaluationError', value);
    return normalize(result);
  }
  if (Array.isArray(value)) return Promise.all(value.map((v) => evaluate(v, frame, scope)));
  if (value !== null && typeof value === 'object') {
    const entries = await Promise.all(
      Object.entries(value).map(async ([k, v]) => [k, await evaluate(v, frame, scope)] as const),
    );
    return Object.fromEntries(entries);
  }
  return value;
}

/** JSONata's results carry a `sequence` marker on arrays; JSON has none. */
function normalize(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}
