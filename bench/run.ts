/**
 * `npm run bench -- <name> [flags]`: runs one benchmark and prints its table. Benchmarks report
 * ratios against a baseline measured in the same run, never absolute pass/fail timings.
 */
import { runDataplane, usage as dataplaneUsage } from './dataplane';
import { runFleet, usage as fleetUsage } from './fleet';
import { runPlanner, usage as plannerUsage } from './planner';

const benchmarks: Record<string, { run: (args: string[]) => Promise<void>; usage: string }> = {
  dataplane: { run: runDataplane, usage: dataplaneUsage },
  fleet: { run: runFleet, usage: fleetUsage },
  planner: { run: runPlanner, usage: plannerUsage },
};

function listBenchmarks(): string {
  return `available benchmarks:\n${Object.values(benchmarks)
    .map(({ usage }) => `  ${usage.replaceAll('\n', '\n  ')}`)
    .join('\n')}`;
}

const [name, ...args] = process.argv.slice(2);
const benchmark = name === undefined ? undefined : benchmarks[name];
if (!benchmark) {
  console.error(name === undefined ? 'which benchmark? npm run bench -- <name>' : `no benchmark named "${name}"`);
  console.error(listBenchmarks());
  process.exitCode = 2;
} else {
  await benchmark.run(args).catch((error: unknown) => {
    console.error((error as Error).message);
    process.exitCode = 2;
  });
}
