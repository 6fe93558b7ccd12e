/**
 * The fault array: a directory array whose LUNs carry fault rules, for tests of how Tern meets a
 * failing array (docs/testing.md item 5). Each LUN has a rules file beside it (`<lun>.faults.json`,
 * the format in server/dataplane/faulty-device.ts), which the host's data plane reads when it
 * opens the LUN and again whenever the file is replaced, so faults can be set before a LUN is
 * used or while a migration runs on it. `setFaultsForNewLuns` gives every LUN created later its
 * rules from birth, which is how a test makes a migration's target (created by the engine) fail.
 * The rules files are replaced atomically, like the manifest; a LUN created here always has one,
 * empty when it has no faults, so its faults can change after a host opened it.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../dataplane/durable-file';
import { faultRules, faultRulesPath, type FaultRule } from '../dataplane/faulty-device';
import { DirectoryArray, type DirectoryArrayConfig } from './directory-array';
import { ArrayError, type DriverLun } from './driver';

export type { FaultRule } from '../dataplane/faulty-device';

const NEW_LUN_RULES = 'tern-faults-new-luns.json';

export class FaultArray extends DirectoryArray {
  override readonly kind = 'fault';

  static override async initialize(config: DirectoryArrayConfig): Promise<FaultArray> {
    await DirectoryArray.initialize(config);
    return new FaultArray(config);
  }

  /** Replaces the fault rules of an existing LUN; they apply from the host's next I/O to it. */
  async setFaults(lunName: string, rules: FaultRule[]): Promise<void> {
    if (!(await this.listLuns()).some((lun) => lun.name === lunName)) throw new ArrayError('not-found', `LUN ${lunName} does not exist on this array`);
    await writeFileAtomic(faultRulesPath(this.lunPath(lunName)), JSON.stringify(validRules(rules), null, 1));
  }

  /** The array is repaired: the LUN's I/O is plain again. */
  clearFaults(lunName: string): Promise<void> {
    return this.setFaults(lunName, []);
  }

  async faults(lunName: string): Promise<FaultRule[]> {
    return readRules(faultRulesPath(this.lunPath(lunName)));
  }

  /** Rules every LUN created from now on starts with (an empty list stops that). */
  async setFaultsForNewLuns(rules: FaultRule[]): Promise<void> {
    await writeFileAtomic(path.join(this.config.path, NEW_LUN_RULES), JSON.stringify(validRules(rules), null, 1));
  }

  override async createLun(spec: { name: string; sizeBytes: number }): Promise<DriverLun> {
    const lun = await super.createLun(spec);
    const rules = await readRules(path.join(this.config.path, NEW_LUN_RULES));
    await writeFileAtomic(faultRulesPath(this.lunPath(spec.name)), JSON.stringify(rules, null, 1));
    return lun;
  }

  override async deleteLun(name: string): Promise<void> {
    await super.deleteLun(name);
    await rm(faultRulesPath(this.lunPath(name)), { force: true });
  }
}

function validRules(rules: FaultRule[]): FaultRule[] {
  const parsed = faultRules.safeParse(rules);
  if (!parsed.success) throw new ArrayError('invalid', `fault rules are not valid: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'rules'}: ${issue.message}`).join('; ')}`);
  return parsed.data;
}

async function readRules(file: string): Promise<FaultRule[]> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '[]';
    throw error;
  });
  return faultRules.parse(JSON.parse(text));
}
