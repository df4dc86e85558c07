/** The collector's configuration: load it, know its shape, log it without secrets. */
export { ConfigError, keyPath, loadConfig, parseConfig } from './load.js';
export type {
  CertificateCredential,
  Config,
  ConfigIssue,
  Credential,
  Env,
  OutputConfig,
  SecretCredential,
  TenantConfig,
} from './load.js';
export { REDACTED, redactConfig, secretsOf } from './redact.js';
export {
  DEFAULTS,
  DEFAULT_ELASTICSEARCH_INDEX,
  DEFAULT_GRAPH_URL,
  DEFAULT_HEALTH_LISTEN,
  DEFAULT_LOGIN_URL,
  DEFAULT_REPORTING_URL,
  DEFAULT_SEKOIA_URL,
  DEFAULT_STATE_DIR,
  MAX_REQUESTS_PER_5_MIN,
  OUTPUT_TYPES,
  configSchema,
  isLoopbackHost,
} from './schema.js';
export type { Api, OutputType, StartFrom } from './schema.js';
