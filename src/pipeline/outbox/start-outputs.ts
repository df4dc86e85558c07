/**
 * The outputs' start: registered in the state (a new one reads the outbox from the beginning),
 * each started from its acknowledged state, and outputs no longer configured forgotten or kept.
 */
import type { StateStore } from '../../state/store.js';
import { SinkError, type Sink } from '../../sinks/types.js';

/** Outputs the state knows that the configuration no longer has. */
export interface RemovedOutputs {
  /** Forgotten: they held back pruning, and nothing of theirs was kept. */
  readonly forgotten: readonly string[];
  /** Kept because they have dead letters (list or retry them, or add the output back). */
  readonly kept: readonly string[];
}

/**
 * Register the sinks (a new one reads the outbox from the beginning) and start each from its
 * acknowledged state. A sink that records a state on start (the file output's offset) has it
 * stored before anything is sent. Throws when a sink cannot start.
 *
 * An output removed from the configuration would hold back pruning for ever (the outbox keeps
 * what every registered output has not acknowledged): it is forgotten, unless it has dead letters,
 * which are kept (and said) rather than dropped.
 */
export async function startSinks(store: StateStore, sinks: readonly Sink[]): Promise<RemovedOutputs> {
  const names = sinks.map((s) => s.name);
  if (new Set(names).size !== names.length)
    throw new SinkError(`two outputs share a name: ${names.join(', ')}`);
  await store.registerSinks(names, 'beginning');
  const forgotten: string[] = [];
  const kept: string[] = [];
  for (const known of await store.listSinks()) {
    if (names.includes(known.name)) continue;
    if ((await store.deadLetters(known.name, 1)).length > 0) {
      kept.push(known.name);
    } else {
      await store.unregisterSink(known.name);
      forgotten.push(known.name);
    }
  }
  const context = { stateId: await store.stateId() };
  for (const sink of sinks) {
    const state = await store.sinkState(sink.name);
    if (state === undefined) throw new SinkError(`output ${sink.name} is not registered`);
    const meta = await sink.start(state.meta, context);
    if (meta !== undefined && meta !== state.meta) await store.ack(sink.name, state.ackedSeq, meta);
  }
  return { forgotten, kept };
}
