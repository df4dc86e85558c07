/**
 * The emulator's mail flow: `createTraceData()` gives the `TraceData` every API handler reads.
 * generator.ts walks and caches buckets; bucket.ts generates them; the modules it imports say
 * what a message is made of.
 */
export {
  createTraceData,
  type GeneratedTraceData,
  type TraceDataOptions,
  type TraceDataStats,
} from './generator.js';
export { generateBucket } from './bucket.js';
export { HOUR_MS } from './curve.js';
