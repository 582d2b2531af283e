import { it } from 'vitest';
import { startEmbeddedApp, SioTestClient } from '../helpers/app.ts';
it('probe', async () => {
  const t = await startEmbeddedApp({});
  const c = await t.login('client1');
  try { const s = await SioTestClient.connect(t.baseUrl, c.token); console.log('sio ok'); s.close(); } catch (e) { console.log('sio fail', (e as any).message, (e as any).description, (e as any).description?.error, (e as any).context); }
  await t.close();
});
