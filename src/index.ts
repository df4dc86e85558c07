/**
 * exotrace as a library: `import { normalize } from 'exotrace'`.
 */
export * from './normalize/index.js';
