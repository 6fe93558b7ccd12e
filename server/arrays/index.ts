import { z } from 'zod';
import { ArrayError, type ArrayDriver } from './driver';
import { DirectoryArray } from './directory-array';
import { FaultArray } from './fault-array';

export * from './driver';
export { DirectoryArray } from './directory-array';
export { FaultArray, type FaultRule } from './fault-array';

export const directoryDriverConfig = z.object({ path: z.string().min(1) });

/** Opens the driver of a registered array from its stored driver name and configuration. */
export function openDriver(array: { name: string; driver: string; driverConfig: unknown; capacityBytes: number }): ArrayDriver {
  if (array.driver === 'directory') {
    const config = directoryDriverConfig.parse(array.driverConfig);
    return new DirectoryArray({ path: config.path, capacityBytes: array.capacityBytes });
  }
  if (array.driver === 'fault') {
    // A directory array whose LUNs carry fault rules; for tests (server/arrays/fault-array.ts).
    const config = directoryDriverConfig.parse(array.driverConfig);
    return new FaultArray({ path: config.path, capacityBytes: array.capacityBytes });
  }
  throw new ArrayError('invalid', `array ${array.name} uses driver "${array.driver}", which this console does not have`);
}
