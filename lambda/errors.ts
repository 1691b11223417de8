/**
 * The errors rekey raises on purpose. Each names what went wrong and what to do, never a key, a
 * secret value or a decrypted field.
 */

/** Base class: every error rekey raises on purpose extends it. */
export class RekeyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RekeyError';
  }
}

/** The configuration (environment, file or CDK props) is invalid; nothing has been touched. */
export class ConfigError extends RekeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** The rotation event is malformed or names an unknown step. */
export class EventError extends RekeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EventError';
  }
}

/** The secret's state does not allow this step (rotation disabled, token not pending, ...). */
export class RotationStateError extends RekeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RotationStateError';
  }
}

/** A secret version's value does not match the template. The message names fields, never values. */
export class SecretFormatError extends RekeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretFormatError';
  }
}

/** Stored rows use a key that no staged version holds; going on would strand them. */
export class StrandedRowsError extends RekeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StrandedRowsError';
  }
}

/** setSecret stopped before the Lambda's time ran out; the next attempt resumes. */
export class NotFinishedError extends RekeyError {
  constructor(
    readonly done: number,
    readonly total: number,
    options?: { cause?: unknown },
  ) {
    super(
      `not finished: ${done} of ${total} rows done; the next attempt resumes where this one stopped`,
      options,
    );
    this.name = 'NotFinishedError';
  }
}

/** testSecret found rows that the pending version cannot read. */
export class VerificationError extends RekeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VerificationError';
  }
}

/** A value could not be decrypted or is not in the codec's format. Never carries the value. */
export class DecryptError extends RekeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DecryptError';
  }
}

/** A single row is larger than the Data API can return or accept. */
export class RowTooLargeError extends RekeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RowTooLargeError';
  }
}
