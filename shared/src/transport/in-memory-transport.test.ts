import { transportContract } from '../testing/transport-contract.ts';
import { InMemoryNetwork } from './in-memory-transport.ts';

transportContract('in-memory transport', (ids) => {
  const network = new InMemoryNetwork();
  return { transports: ids.map((id) => network.join(id)), leave: (i) => network.kill(ids[i]!) };
});

transportContract('in-memory transport with latency, jitter and bandwidth', (ids) => {
  const network = new InMemoryNetwork({ latencyMs: 2, jitterMs: 3, bandwidthBytesPerSec: 50e6, seed: 5 });
  return { transports: ids.map((id) => network.join(id)), leave: (i) => network.kill(ids[i]!) };
});
