/** A database driver that an engine needs is not installed (they are optional peer dependencies). */
export class MissingDriverError extends Error {
  /** The npm package to install. */
  readonly packageName: string;

  constructor(packageName: string, engine: string, options?: { cause?: unknown }) {
    super(
      `the ${engine} engine needs the '${packageName}' package, which could not be found: ` +
        `npm install ${packageName} (rekey lists it as an optional peer dependency)`,
      options,
    );
    this.name = 'MissingDriverError';
    this.packageName = packageName;
  }
}

/**
 * Loads a database driver when its engine is asked for, so that apps that never use that engine need
 * not install it. `load` is the `import()` itself, written at the call site with a literal specifier.
 * @throws MissingDriverError when the package cannot be found.
 */
export async function loadDriver<T>(packageName: string, engine: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (isModuleNotFound(error)) throw new MissingDriverError(packageName, engine, { cause: error });
    throw error;
  }
}

/** Node's own error for an import that cannot be resolved, told by its code. */
function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}
