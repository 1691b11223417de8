export {
  AppRestarts,
  type AppRestartsProps,
  MAX_RESTARTED_SERVICES,
  type RestartAfterPromotion,
} from './app-restarts.js';
export { AppSecretRotation, type AppSecretRotationProps } from './app-secret-rotation.js';
export {
  addRotationOperations,
  ROTATION_FAILURE_EVENTS,
  type RotationOperations,
  type RotationOperationsProps,
  rotationFailuresMetric,
} from './operations.js';
export {
  CURRENT_STAGE,
  PROMOTED_EVENT,
  promotionEventPattern,
  SECRET_LABEL_UPDATED,
  type SecretVersionPromotedDetail,
} from './promotion-event.js';
export { PropsError, type PropsErrorOptions } from './props-error.js';
export { type RekeySettings, type RekeyTargets, renderRekeyConfig } from './rekey-config.js';
export { RekeyStack, type RekeyStackProps } from './rekey-stack.js';
export {
  APPS_DID_NOT_FOLLOW,
  MAX_POLLS,
  MIN_POLL_INTERVAL,
  PERMANENT_ECS_ERRORS,
  type RestartWorkflowProps,
  restartWorkflow,
  type ServiceToRestart,
  type SweepAfterRestart,
  TRANSIENT_RETRY,
} from './restart-workflow.js';
export {
  createRotationFunction,
  ROTATION_RUNTIME,
  ROTATION_TIMEOUT,
  type RotationFunctionProps,
} from './rotation-function.js';
export {
  DATA_API_ACTIONS,
  grantKeyRingRead,
  grantRotation,
  KEY_RING_READ_ACTIONS,
  KEY_RING_STAGES,
  type KeyRingReadTargets,
  type RotationGrantTargets,
  SECRET_ACTIONS,
  secretPolicyArn,
} from './rotation-grants.js';
export { type RotationScheduleSpec, rotationRules, sweepExpression } from './rotation-schedule.js';
export {
  applySecretGuard,
  GUARDED_ACTIONS,
  type SecretGuardProps,
  secretGuardStatements,
} from './secret-guard-policy.js';
