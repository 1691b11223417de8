export { AppSecretRotation, type AppSecretRotationProps, type RekeySettings } from './app-secret-rotation.js';
export { RekeyStack, type RekeyStackProps } from './rekey-stack.js';
export { type RotationScheduleSpec, rotationRules, sweepExpression } from './rotation-schedule.js';
