import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import type { CreateVolumeRequest, Inventory, MapLunRequest, VolumeReport } from '../protocol/agent-api';
import { createVolumeRequest } from '../protocol/agent-api';
import { formatBytes } from '../format';
import { fileSizeBytes, type AgentState, type DataDir, type MappedLun } from './store';

/** A request the agent refuses; it changed nothing. `status` is the HTTP status to answer with. */
export class AgentRefusal extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
    this.name = 'AgentRefusal';
  }
}

/**
 * The host's LUNs and volumes. Every change is validated against the current state, written to
 * the data folder, and only then made visible in memory, one change at a time, so a refused or
 * failed change leaves both the file and the memory as they were.
 */
export class VolumeManager {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly dataDir: DataDir,
    private state: AgentState,
  ) {}

  static async open(dataDir: DataDir): Promise<VolumeManager> {
    return new VolumeManager(dataDir, await dataDir.readState());
  }

  /** Called after every committed change (the agent sends a heartbeat at once). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async inventory(): Promise<Inventory> {
    const { luns, diskGroups } = this.state;
    return {
      luns: await Promise.all(luns.map(async (lun) => ({ ...lun, present: await isPresent(lun.path) }))),
      diskGroups,
    };
  }

  mapLun(lunId: string, request: MapLunRequest): Promise<Inventory> {
    return this.change((state) => {
      const user = plexOn(state, lunId);
      const known = state.luns.find((lun) => lun.lunId === lunId);
      if (user && known && known.path !== request.path) {
        throw new AgentRefusal(
          `LUN ${known.wwn} is in use by plex ${user.plex} of volume ${user.volume} at ${known.path}; its path cannot change to ${request.path} while in use`,
          409,
          'lun-in-use',
        );
      }
      if (user && request.sizeBytes < user.sizeBytes) {
        throw new AgentRefusal(
          `LUN ${request.wwn} would shrink to ${formatBytes(request.sizeBytes)} below volume ${user.volume} (${formatBytes(user.sizeBytes)})`,
          409,
          'lun-in-use',
        );
      }
      const lun: MappedLun = { lunId, ...request };
      const luns = [...state.luns.filter((l) => l.lunId !== lunId), lun].sort((a, b) => a.wwn.localeCompare(b.wwn));
      return { ...state, luns };
    });
  }

  unmapLun(lunId: string): Promise<Inventory> {
    return this.change((state) => {
      const user = plexOn(state, lunId);
      if (user) {
        const wwn = state.luns.find((lun) => lun.lunId === lunId)?.wwn ?? lunId;
        throw new AgentRefusal(
          `LUN ${wwn} is in use by plex ${user.plex} of volume ${user.volume}; move or remove the volume before unmapping the LUN`,
          409,
          'lun-in-use',
        );
      }
      return { ...state, luns: state.luns.filter((lun) => lun.lunId !== lunId) };
    });
  }

  createVolume(input: CreateVolumeRequest): Promise<Inventory> {
    const request = createVolumeRequest.parse(input);
    const fullName = `${request.diskGroup}/${request.name}`;
    return this.change(async (state) => {
      const group = state.diskGroups.find((dg) => dg.name === request.diskGroup);
      if (group?.volumes.some((v) => v.name === request.name)) {
        throw new AgentRefusal(`volume ${fullName} already exists on this host; choose another name`, 409, 'volume-exists');
      }
      const lun = state.luns.find((l) => l.lunId === request.lunId);
      if (!lun) {
        throw new AgentRefusal(`LUN ${request.lunId} is not mapped to this host; map it first (PUT /v1/luns/${request.lunId})`, 409, 'lun-not-mapped');
      }
      const user = plexOn(state, lun.lunId);
      if (user) {
        throw new AgentRefusal(`LUN ${lun.wwn} is already used by plex ${user.plex} of volume ${user.volume}; a LUN holds one volume`, 409, 'lun-in-use');
      }
      const problem = await accessProblem(lun.path);
      if (problem) throw new AgentRefusal(`LUN ${lun.wwn} at ${lun.path} cannot be opened on this host (${problem})`, 409, 'lun-not-present');
      const actualBytes = await fileSizeBytes(lun.path);
      const capacityBytes = Math.min(lun.sizeBytes, actualBytes ?? lun.sizeBytes);
      if (request.sizeBytes > capacityBytes) {
        throw new AgentRefusal(
          `volume ${fullName} needs ${formatBytes(request.sizeBytes)} but LUN ${lun.wwn} holds ${formatBytes(capacityBytes)}; use a larger LUN or a smaller volume`,
          409,
          'volume-too-large',
        );
      }
      const volume: VolumeReport = {
        name: request.name,
        sizeBytes: request.sizeBytes,
        regionSizeBytes: request.regionSizeBytes,
        nbdExport: fullName,
        plexes: [{ name: `${request.name}-01`, lunId: lun.lunId, lunPath: lun.path, state: 'active' }],
      };
      const volumes = [...(group?.volumes ?? []), volume].sort((a, b) => a.name.localeCompare(b.name));
      const diskGroups = [...state.diskGroups.filter((dg) => dg.name !== request.diskGroup), { name: request.diskGroup, volumes }];
      return { ...state, diskGroups: diskGroups.sort((a, b) => a.name.localeCompare(b.name)) };
    });
  }

  /** The volumes of this host with their disk group, as configured now. */
  volumes(): { diskGroup: string; volume: VolumeReport }[] {
    return this.state.diskGroups.flatMap((dg) => dg.volumes.map((volume) => ({ diskGroup: dg.name, volume })));
  }

  findVolume(exportName: string): VolumeReport | undefined {
    return this.volumes().find(({ volume }) => volume.nbdExport === exportName)?.volume;
  }

  /** A mapped LUN by its id or its WWN. */
  findLun(idOrWwn: string): MappedLun | undefined {
    return this.state.luns.find((lun) => lun.lunId === idOrWwn || lun.wwn === idOrWwn);
  }

  /** The plex a LUN holds, if any (a LUN holds at most one). */
  plexOnLun(lunId: string) {
    return plexOn(this.state, lunId);
  }

  /** Replaces a volume's plexes (a migration attaching, switching or detaching one). */
  setPlexes(exportName: string, plexes: VolumeReport['plexes']): Promise<Inventory> {
    return this.change((state) => {
      if (!this.findVolume(exportName)) throw new AgentRefusal(`no volume ${exportName} on this host`, 404, 'no-volume');
      return {
        ...state,
        diskGroups: state.diskGroups.map((dg) => ({
          ...dg,
          volumes: dg.volumes.map((volume) => (volume.nbdExport === exportName ? { ...volume, plexes } : volume)),
        })),
      };
    });
  }

  /** Runs one change at a time: validate → write the file → swap memory → notify. */
  private change(next: (state: AgentState) => AgentState | Promise<AgentState>): Promise<Inventory> {
    const run = this.queue.then(async () => {
      const updated = await next(this.state);
      if (updated !== this.state) {
        await this.dataDir.writeState(updated);
        this.state = updated;
        for (const listener of this.listeners) listener();
      }
      return this.inventory();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function plexOn(state: AgentState, lunId: string) {
  for (const dg of state.diskGroups) {
    for (const volume of dg.volumes) {
      const plex = volume.plexes.find((p) => p.lunId === lunId);
      if (plex) return { plex: plex.name, volume: `${dg.name}/${volume.name}`, sizeBytes: volume.sizeBytes };
    }
  }
  return undefined;
}

async function accessProblem(file: string): Promise<string | undefined> {
  try {
    await access(file, constants.R_OK | constants.W_OK);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
}

async function isPresent(file: string): Promise<boolean> {
  return (await accessProblem(file)) === undefined;
}
