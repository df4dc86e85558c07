/**
 * The emulator's mail flow: `createTraceData()` gives the `TraceData` every API handler reads.
 * See generator.ts for the bucket scheme and the modules it imports for what a message is made of.
 */
export {
  createTraceData,
  generateBucket,
  type GeneratedTraceData,
  type TraceDataOptions,
  type TraceDataStats,
} from './generator.js';
export { HOUR_MS } from './curve.js';
