/**
 * Invalid construct props or deployment options, found at synth time before anything is deployed.
 * The message names the prop, the value it got and what is allowed.
 */
export class PropsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PropsError';
  }
}
