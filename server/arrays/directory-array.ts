/**
 * The directory array: a folder holding one sparse file per LUN (`<name>.lun`) and a manifest
 * (`tern-array.json`) that records the array's declared capacity, its LUNs and their host
 * mappings, as a real array's configuration would. The manifest is replaced atomically (write
 * a temporary file, fsync, rename), so after a crash it is the old or the new one, never torn.
 * A LUN is listed in the manifest only once its file exists at full size; a delete removes it
 * from the manifest before the file, so the manifest never names a LUN without a file.
 */
import { constants } from 'node:fs';
import { access, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { formatBytes } from '../format';
import { ArrayError, type ArrayCapacity, type ArrayDriver, type DriverLun } from './driver';

export interface DirectoryArrayConfig {
  path: string;
  capacityBytes: number;
}

interface Manifest {
  version: 1;
  capacityBytes: number;
  luns: Record<string, { sizeBytes: number; mappedHostIds: string[] }>;
}

const MANIFEST = 'tern-array.json';
const LUN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Changes to one array folder, serialized across every DirectoryArray object of this process
 * (the console opens a driver per call): the manifest is read, changed and replaced, and two
 * interleaved changes would lose one of them.
 */
const holder = globalThis as unknown as { ternArrayQueues?: Map<string, Promise<unknown>> };
const queues = (holder.ternArrayQueues ??= new Map());

export class DirectoryArray implements ArrayDriver {
  readonly kind: string = 'directory';

  constructor(readonly config: DirectoryArrayConfig) {}

  /**
   * Checks that the folder can hold an array and writes its manifest. An existing manifest
   * (the array was created before) is kept. Fails without changing anything when the folder
   * cannot be written.
   */
  static async initialize(config: DirectoryArrayConfig): Promise<DirectoryArray> {
    if (!path.isAbsolute(config.path)) throw new ArrayError('invalid', `array folder must be an absolute path, got "${config.path}"`);
    const array = new DirectoryArray(config);
    try {
      await mkdir(config.path, { recursive: true });
      await access(config.path, constants.W_OK | constants.R_OK | constants.X_OK);
    } catch (error) {
      throw new ArrayError('not-writable', `array folder ${config.path} cannot be written: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const existing = await array.readManifest().catch(() => undefined);
    if (!existing) await array.writeManifest({ version: 1, capacityBytes: config.capacityBytes, luns: {} });
    return array;
  }

  async capacity(): Promise<ArrayCapacity> {
    const manifest = await this.readManifest();
    const luns = await this.listLuns();
    const provisionedBytes = luns.reduce((sum, lun) => sum + lun.sizeBytes, 0);
    return {
      capacityBytes: manifest.capacityBytes,
      provisionedBytes,
      freeBytes: Math.max(0, manifest.capacityBytes - provisionedBytes),
      allocatedBytes: luns.reduce((sum, lun) => sum + lun.allocatedBytes, 0),
    };
  }

  async listLuns(): Promise<DriverLun[]> {
    const manifest = await this.readManifest();
    return Promise.all(
      Object.entries(manifest.luns).map(async ([name, lun]) => ({
        name,
        sizeBytes: lun.sizeBytes,
        allocatedBytes: await this.allocatedBytes(name),
        mappedHostIds: [...lun.mappedHostIds],
      })),
    );
  }

  lunPath(name: string): string {
    return path.join(this.config.path, `${name}.lun`);
  }

  createLun(spec: { name: string; sizeBytes: number }): Promise<DriverLun> {
    return this.serialized(async () => {
      if (!LUN_NAME.test(spec.name)) throw new ArrayError('invalid', `LUN name "${spec.name}" is not valid: use up to 64 letters, digits, dot, dash and underscore`);
      if (!Number.isSafeInteger(spec.sizeBytes) || spec.sizeBytes <= 0 || spec.sizeBytes % 4096 !== 0) {
        throw new ArrayError('invalid', `LUN size must be a positive multiple of 4 KiB, got ${spec.sizeBytes}`);
      }
      const manifest = await this.readManifest();
      if (manifest.luns[spec.name]) throw new ArrayError('already-exists', `LUN ${spec.name} already exists on this array`);
      const free = this.freeBytes(manifest);
      if (spec.sizeBytes > free) {
        throw new ArrayError('no-capacity', `LUN ${spec.name} needs ${formatBytes(spec.sizeBytes)} but the array has ${formatBytes(free)} free of ${formatBytes(manifest.capacityBytes)}`);
      }
      const file = await open(this.lunPath(spec.name), 'wx', 0o600);
      try {
        await file.truncate(spec.sizeBytes);
        await file.sync();
      } finally {
        await file.close();
      }
      manifest.luns[spec.name] = { sizeBytes: spec.sizeBytes, mappedHostIds: [] };
      await this.writeManifest(manifest);
      return { name: spec.name, sizeBytes: spec.sizeBytes, allocatedBytes: 0, mappedHostIds: [] };
    });
  }

  resizeLun(name: string, sizeBytes: number): Promise<DriverLun> {
    return this.serialized(async () => {
      const manifest = await this.readManifest();
      const lun = manifest.luns[name];
      if (!lun) throw new ArrayError('not-found', `LUN ${name} does not exist on this array`);
      if (sizeBytes < lun.sizeBytes) throw new ArrayError('invalid', `LUN ${name} cannot shrink from ${formatBytes(lun.sizeBytes)} to ${formatBytes(sizeBytes)}: data past the new end would be lost`);
      const free = this.freeBytes(manifest);
      if (sizeBytes - lun.sizeBytes > free) {
        throw new ArrayError('no-capacity', `growing LUN ${name} by ${formatBytes(sizeBytes - lun.sizeBytes)} needs more than the ${formatBytes(free)} free`);
      }
      const file = await open(this.lunPath(name), 'r+');
      try {
        await file.truncate(sizeBytes);
        await file.sync();
      } finally {
        await file.close();
      }
      lun.sizeBytes = sizeBytes;
      await this.writeManifest(manifest);
      return { name, sizeBytes, allocatedBytes: await this.allocatedBytes(name), mappedHostIds: [...lun.mappedHostIds] };
    });
  }

  deleteLun(name: string): Promise<void> {
    return this.serialized(async () => {
      const manifest = await this.readManifest();
      const lun = manifest.luns[name];
      if (!lun) throw new ArrayError('not-found', `LUN ${name} does not exist on this array`);
      if (lun.mappedHostIds.length > 0) throw new ArrayError('in-use', `LUN ${name} is still mapped to ${lun.mappedHostIds.length} host(s); unmap it first`);
      delete manifest.luns[name];
      await this.writeManifest(manifest);
      await unlink(this.lunPath(name)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    });
  }

  mapLun(name: string, hostId: string): Promise<{ hostPath: string }> {
    return this.serialized(async () => {
      const manifest = await this.readManifest();
      const lun = manifest.luns[name];
      if (!lun) throw new ArrayError('not-found', `LUN ${name} does not exist on this array`);
      if (!lun.mappedHostIds.includes(hostId)) {
        lun.mappedHostIds.push(hostId);
        await this.writeManifest(manifest);
      }
      return { hostPath: this.lunPath(name) };
    });
  }

  unmapLun(name: string, hostId: string): Promise<void> {
    return this.serialized(async () => {
      const manifest = await this.readManifest();
      const lun = manifest.luns[name];
      if (!lun) throw new ArrayError('not-found', `LUN ${name} does not exist on this array`);
      if (!lun.mappedHostIds.includes(hostId)) return;
      lun.mappedHostIds = lun.mappedHostIds.filter((id) => id !== hostId);
      await this.writeManifest(manifest);
    });
  }

  private freeBytes(manifest: Manifest): number {
    const provisioned = Object.values(manifest.luns).reduce((sum, lun) => sum + lun.sizeBytes, 0);
    return manifest.capacityBytes - provisioned;
  }

  private async allocatedBytes(name: string): Promise<number> {
    try {
      return (await stat(this.lunPath(name))).blocks * 512;
    } catch {
      return 0;
    }
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const key = path.resolve(this.config.path);
    const previous = queues.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    queues.set(key, settled);
    void settled.then(() => {
      if (queues.get(key) === settled) queues.delete(key);
    });
    return next;
  }

  private async readManifest(): Promise<Manifest> {
    const text = await readFile(path.join(this.config.path, MANIFEST), 'utf8');
    const manifest = JSON.parse(text) as Manifest;
    if (manifest.version !== 1 || typeof manifest.capacityBytes !== 'number') throw new Error(`unrecognised array manifest in ${this.config.path}`);
    return manifest;
  }

  private async writeManifest(manifest: Manifest): Promise<void> {
    const target = path.join(this.config.path, MANIFEST);
    const temporary = `${target}.${process.pid}.tmp`;
    const file = await open(temporary, 'w', 0o600);
    try {
      await file.writeFile(JSON.stringify(manifest, null, 2));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, target);
    const folder = await open(this.config.path, 'r');
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  }
}
