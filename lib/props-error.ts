import type { IConstruct } from 'constructs';

/** Options of {@link PropsError}. */
export interface PropsErrorOptions {
  /**
   * The construct whose props are wrong: its path leads the message and is kept in
   * {@link PropsError.constructPath}.
   * @default - none, for values that belong to no construct (CDK context, a schedule checked alone)
   */
  readonly scope?: IConstruct;
  /**
   * The error that revealed the problem.
   * @default - none
   */
  readonly cause?: unknown;
}

/**
 * Invalid construct props or deployment options, found at synth time before anything is deployed.
 * The message names the construct (its path, as aws-cdk-lib's own validation errors do), the prop, the
 * value it got and what is allowed: `Prod/Rotation: memorySize must be … got 64`.
 *
 * Not a subclass of aws-cdk-lib's `ValidationError`: that class is `@internal` in aws-cdk-lib 2.x
 * (only `Errors.isValidationError` is public), and its constructor resets the prototype, so a subclass
 * would not be `instanceof` itself.
 */
export class PropsError extends Error {
  /** The path of the construct whose props are wrong (`Stack/Construct`), when there is one. */
  readonly constructPath?: string;

  constructor(message: string, options: PropsErrorOptions = {}) {
    const path = options.scope?.node.path || undefined;
    super(
      path === undefined ? message : `${path}: ${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'PropsError';
    this.constructPath = path;
  }
}

/**
 * Runs `check` on behalf of `scope`: a {@link PropsError} it throws without a construct path is thrown
 * again with `scope`'s path (the original as its cause), so checks that know no construct, such as
 * `rotationRules`, still report which construct had the bad prop.
 * @throws PropsError naming `scope`, when `check` throws one.
 */
export function withConstructPath<T>(scope: IConstruct, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof PropsError && error.constructPath === undefined) {
      throw new PropsError(error.message, { scope, cause: error });
    }
    throw error;
  }
}
