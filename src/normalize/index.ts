export { createNormalizer, normalize } from './normalizer.js';
export type { NormalizeOptions, NormalizeReject, NormalizeResult, Normalizer } from './normalizer.js';
export { ECS_VERSION, PROFILES } from './ecs.js';
export type { MessageTraceEvent, Profile } from './ecs.js';
export { FIELDS, renderFieldsDoc } from './fields.js';
export type { FieldSpec, FieldType } from './fields.js';
export { canonicalStatus, outcomeOf } from './status.js';
export { readRecordBatches } from './reader.js';
export type { InputRecord, ReadRecordsOptions } from './reader.js';
