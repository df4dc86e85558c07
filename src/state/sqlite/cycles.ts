/**
 * How each tenant's cycles (`tenant_cycle`) and each output's delivery rounds (`output_round`)
 * last ended, for `exotrace status` when no daemon runs. Errors are the sanitized describeError
 * object as JSON, never a secret.
 */
import type Database from 'better-sqlite3';
import type { OutputRounds, TenantCycle } from '../store.js';
import { parseErrorJson } from './decode.js';

interface TenantCycleRow {
  tenant: string;
  last_success_at: number | null;
  last_failure_at: number | null;
  last_error: string | null;
  failures_in_a_row: number;
}

function toTenantCycle(row: TenantCycleRow): TenantCycle {
  return {
    tenant: row.tenant,
    ...(row.last_success_at !== null ? { lastSuccessAt: row.last_success_at } : {}),
    ...(row.last_failure_at !== null ? { lastFailureAt: row.last_failure_at } : {}),
    ...(row.last_error !== null ? { lastError: parseErrorJson(row.last_error) } : {}),
    failuresInARow: row.failures_in_a_row,
  };
}

interface OutputRoundRow {
  sink: string;
  last_success_at: number | null;
  failing_since: number | null;
  last_error: string | null;
}

function toOutputRounds(row: OutputRoundRow): OutputRounds {
  return {
    output: row.sink,
    ...(row.last_success_at !== null ? { lastSuccessAt: row.last_success_at } : {}),
    ...(row.failing_since !== null ? { failingSince: row.failing_since } : {}),
    ...(row.last_error !== null ? { lastError: parseErrorJson(row.last_error) } : {}),
  };
}

export class Cycles {
  readonly #cycleSucceeded;
  readonly #cycleFailed;
  readonly #tenantCycles;
  readonly #roundSucceeded;
  readonly #roundFailed;
  readonly #outputRounds;

  constructor(db: Database.Database) {
    this.#cycleSucceeded = db.prepare<[string, number]>(
      `INSERT INTO tenant_cycle (tenant, last_success_at, failures_in_a_row) VALUES (?, ?, 0)
       ON CONFLICT (tenant) DO UPDATE SET
         last_success_at = excluded.last_success_at, last_error = NULL, failures_in_a_row = 0`,
    );
    this.#cycleFailed = db.prepare<[string, number, string]>(
      `INSERT INTO tenant_cycle (tenant, last_failure_at, last_error, failures_in_a_row) VALUES (?, ?, ?, 1)
       ON CONFLICT (tenant) DO UPDATE SET
         last_failure_at = excluded.last_failure_at, last_error = excluded.last_error,
         failures_in_a_row = failures_in_a_row + 1`,
    );
    this.#tenantCycles = db.prepare<[], TenantCycleRow>(
      'SELECT tenant, last_success_at, last_failure_at, last_error, failures_in_a_row FROM tenant_cycle ORDER BY tenant',
    );
    this.#roundSucceeded = db.prepare<[string, number]>(
      `INSERT INTO output_round (sink, last_success_at) VALUES (?, ?)
       ON CONFLICT (sink) DO UPDATE SET
         last_success_at = excluded.last_success_at, failing_since = NULL, last_error = NULL`,
    );
    // The first failure of a run of them says since when; later ones only replace the error.
    this.#roundFailed = db.prepare<[string, number, string]>(
      `INSERT INTO output_round (sink, failing_since, last_error) VALUES (?, ?, ?)
       ON CONFLICT (sink) DO UPDATE SET
         failing_since = coalesce(failing_since, excluded.failing_since), last_error = excluded.last_error`,
    );
    this.#outputRounds = db.prepare<[], OutputRoundRow>(
      'SELECT sink, last_success_at, failing_since, last_error FROM output_round ORDER BY sink',
    );
  }

  /** `error`: the failure as JSON, or undefined for a success. */
  recordCycle(tenant: string, at: number, error: string | undefined): void {
    if (error === undefined) this.#cycleSucceeded.run(tenant, at);
    else this.#cycleFailed.run(tenant, at, error);
  }

  tenantCycles(): TenantCycle[] {
    return this.#tenantCycles.all().map(toTenantCycle);
  }

  /** `error`: the failure as JSON, or undefined for a success. */
  recordRound(sink: string, at: number, error: string | undefined): void {
    if (error === undefined) this.#roundSucceeded.run(sink, at);
    else this.#roundFailed.run(sink, at, error);
  }

  outputRounds(): OutputRounds[] {
    return this.#outputRounds.all().map(toOutputRounds);
  }
}
