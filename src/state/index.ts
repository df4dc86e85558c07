export * from './store.js';
export { createMemoryStore, type MemoryStoreOptions } from './memory.js';
export {
  openSqliteStore,
  inspectSqliteState,
  DB_FILE,
  SCHEMA_VERSION,
  type SqliteStoreOptions,
} from './sqlite.js';
