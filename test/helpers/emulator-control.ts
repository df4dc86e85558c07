/**
 * The emulator's control API (`/_emulator/…`) for in-process tests: one call, and the ground
 * truth as the keys the tests compare a file output with.
 */
import { Agent, request } from 'undici';
import type { Emulator } from '../../src/emulator/server.js';

/** One control request; its text, or an error naming the route and the answer. */
export async function emulatorControl(
  emulator: Emulator,
  method: 'GET' | 'POST' | 'DELETE',
  route: string,
  body?: object,
): Promise<string> {
  const agent = new Agent({ connect: { ca: emulator.caCertPem } });
  try {
    const res = await request(`${emulator.url}/_emulator${route}`, {
      method,
      body: body === undefined ? null : JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
      dispatcher: agent,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${method} ${route}: ${res.statusCode} ${text}`);
    return text;
  } finally {
    await agent.close();
  }
}

/**
 * The ground truth of a tenant's rows received in [from, to] and visible at `asOf`, each as
 * `traceId|recipient (lower case)|status`: the dedupe identity of an event.
 */
export async function groundTruthKeys(
  emulator: Emulator,
  tenant: string,
  from: number,
  to: number,
  asOf: number,
): Promise<string[]> {
  const text = await emulatorControl(
    emulator,
    'GET',
    `/ground-truth?tenant=${tenant}&from=${from}&to=${to}&asOf=${asOf}`,
  );
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as { id: string; recipient: string; status: string })
    .map((r) => `${r.id}|${r.recipient.toLowerCase()}|${r.status}`);
}
