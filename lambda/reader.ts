export type { FieldContext } from './codecs/types.js';
export { DecryptError, RotationStateError, SecretFormatError } from './errors.js';
export { KeyRing, type KeyRingOptions } from './keyring.js';
