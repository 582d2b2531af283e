import { MemoryPresence } from '../../src/presence/presence-memory.ts';
import { presenceContract } from './presence.contract.ts';

presenceContract('MemoryPresence', async () => {
  const presence = new MemoryPresence();
  return { presence, cleanup: () => presence.close() };
});
