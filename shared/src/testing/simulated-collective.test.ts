import { collectiveContract } from './collective-contract.ts';
import { simulatePeers } from './simulated-collective.ts';

collectiveContract('simulated collective', (peers) => ({
  run: (step, fn, signal) => simulatePeers(peers, fn, { step, signal }),
  close: () => undefined,
}));
