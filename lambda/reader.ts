/** The reader library's public API, for apps that read and write rekey-encrypted fields. */
export type { FieldContext } from './codecs/types.js';
export type { CodecName } from './config.js';
export {
  DecryptError,
  RekeyError,
  RotationStateError,
  SecretFormatError,
  StaleKeyRingError,
} from './errors.js';
export {
  DEFAULT_HEARTBEAT_TABLE,
  type Heartbeat,
  type HeartbeatOptions,
  type HeartbeatStatement,
  type HeartbeatTarget,
  type HeldKeys,
  heartbeatStatement,
  heartbeatTableSchema,
  startHeartbeat,
} from './heartbeat.js';
export { KeyRing, type KeyRingOptions } from './keyring.js';
export type { Clock } from './ports.js';
export { DEFAULT_READER_MAX_AGE_MS } from './reader-contract.js';
