import { MemoryBus } from '../../src/bus/bus-memory.ts';
import { busContract } from './bus.contract.ts';

busContract('MemoryBus', async () => {
  const bus = new MemoryBus();
  return { bus, cleanup: () => bus.close() };
});
