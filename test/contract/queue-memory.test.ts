import { MemoryQueue } from '../../src/queue/queue-memory.ts';
import { queueContract } from './queue.contract.ts';

queueContract('MemoryQueue', async () => {
  const queue = new MemoryQueue();
  return { queue, cleanup: () => queue.close() };
});
