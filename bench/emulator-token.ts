/** A Graph access token from the emulator for a tenant's app, by client secret (benchmarks only). */
import { request, type Agent } from 'undici';
import type { EmulatorTenant } from '../src/emulator/model.js';

export async function emulatorGraphToken(url: string, tenant: EmulatorTenant, agent: Agent): Promise<string> {
  const app = tenant.apps[0];
  if (app === undefined) throw new Error(`tenant ${tenant.name} has no app`);
  const reply = await request(`${url}/${tenant.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: app.clientId,
      client_secret: app.secrets[0]?.value ?? '',
      scope: 'https://graph.microsoft.com/.default',
    }).toString(),
  });
  const { access_token: token } = (await reply.body.json()) as { access_token: string };
  return token;
}
