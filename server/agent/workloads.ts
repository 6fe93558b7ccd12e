/**
 * Synthetic applications the agent runs on its own volumes (the demo's, and tests'), each a
 * self-verifying Workload writing through the same Volume the NBD export serves. The ledger of
 * acknowledged writes lives in this process: it proves nothing survives an agent crash; crash
 * tests run their writer in another process, over NBD.
 */
import { verifyLedger, Workload } from '../dataplane/workload';
import type { StartWorkloadRequest, WorkloadStatus } from '../protocol/agent-api';
import { startWorkloadRequest } from '../protocol/agent-api';
import { AgentRefusal } from './volume-manager';
import type { VolumeRuntime } from './volume-runtime';

interface Running {
  workload: Workload;
  options: ReturnType<typeof startWorkloadRequest.parse>;
  running: boolean;
  verify: WorkloadStatus['verify'];
}

export class Workloads {
  private readonly byVolume = new Map<string, Running>();

  constructor(private readonly runtime: VolumeRuntime) {}

  async start(volumeName: string, input: StartWorkloadRequest): Promise<WorkloadStatus> {
    const options = startWorkloadRequest.parse(input);
    const volume = await this.runtime.device(volumeName);
    if (!volume) throw new AgentRefusal(`no volume ${volumeName} on this host`, 404, 'no-volume');
    await this.stop(volumeName).catch(() => undefined);
    const range = options.rangeBytes ? { offset: 0, length: Math.min(options.rangeBytes, volume.sizeBytes) } : undefined;
    const workload = new Workload(volume, { ...options, range });
    workload.start();
    this.byVolume.set(volumeName, { workload, options, running: true, verify: null });
    return this.status(volumeName);
  }

  async stop(volumeName: string): Promise<WorkloadStatus> {
    const entry = this.entry(volumeName);
    await entry.workload.stop();
    entry.running = false;
    return this.status(volumeName);
  }

  /** Reads back every block the workload wrote and checks each holds its last acknowledged write. */
  async verify(volumeName: string): Promise<WorkloadStatus> {
    const entry = this.entry(volumeName);
    const volume = await this.runtime.device(volumeName);
    if (!volume) throw new AgentRefusal(`no volume ${volumeName} on this host`, 404, 'no-volume');
    const report = await verifyLedger(volume, entry.workload.ledger());
    entry.verify = { checked: report.checked, indeterminate: report.indeterminate, lost: report.lost.length, at: new Date().toISOString() };
    return this.status(volumeName);
  }

  list(): WorkloadStatus[] {
    return [...this.byVolume.keys()].map((name) => this.status(name));
  }

  async close() {
    for (const entry of this.byVolume.values()) await entry.workload.stop();
  }

  private entry(volumeName: string): Running {
    const entry = this.byVolume.get(volumeName);
    if (!entry) throw new AgentRefusal(`no workload on volume ${volumeName}`, 404, 'no-workload');
    return entry;
  }

  private status(volumeName: string): WorkloadStatus {
    const entry = this.entry(volumeName);
    const { stats } = entry.workload;
    return { volume: volumeName, running: entry.running, options: entry.options, ...stats, verify: entry.verify };
  }
}
