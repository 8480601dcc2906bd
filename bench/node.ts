/** The benchmark on tfjs's cpu backend in this Node process (pure JavaScript; tfjs-node cannot install here, it downloads a binary). */
import { runBench, type BackendResult, type BenchOptions } from './core.ts';
import { busyMachineWarning, CpuMeter, hostEnvironment, loadAverage1m } from './machine.ts';

export async function runNodeBench(options: Omit<BenchOptions, 'backend'>): Promise<BackendResult> {
  const { node, ...host } = hostEnvironment();
  const meter = CpuMeter.start();
  const result = await runBench({ ...options, backend: 'cpu' }, { runtime: `Node ${node}`, ...host });
  const others = meter.othersCores();
  result.environment.loadAverage1mAtEnd = loadAverage1m();
  if (others !== null) result.environment.otherProcessesCores = others;
  const busy = busyMachineWarning(others, host.cores);
  if (busy) result.warnings.push(busy);
  return result;
}
