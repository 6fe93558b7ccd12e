import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import type { EnrolRequest } from '../protocol/agent-api';
import { enrolWithConsole } from './enrol';
import { startHeartbeats, type Heartbeats } from './heartbeat';
import { startSamplePush, type SamplePush } from './sample-push';
import { createAgentServer, sha256Hex } from './http-api';
import type { Logger } from './log';
import type { AgentOptions } from './options';
import { DataDir, type Identity } from './store';
import { VolumeManager } from './volume-manager';
import { VolumeRuntime } from './volume-runtime';
import { Workloads } from './workloads';
import { WriteRateMeter } from './write-rates';
import { createNbdServer, type NbdServer } from '../dataplane/nbd/server';
import path from 'node:path';

export interface RunningAgent {
  hostId: string;
  agentUrl: string;
  stop(): Promise<void>;
}

/** Not enrolled and no token to enrol with: main.ts exits 2 without retrying. */
export class NotEnrolledError extends Error {}

/**
 * Starts the agent: claim the data folder, load LUNs and volumes, listen, enrol if this host has
 * no identity yet, then heartbeat and push samples. Listening comes before enrolment because the console records
 * the agent's URL at enrolment and the port may be chosen by the OS.
 */
export async function runAgent(options: AgentOptions, agentVersion: string, log: Logger, signal: AbortSignal): Promise<RunningAgent> {
  const dataDir = new DataDir(options.dataDir);
  await dataDir.ensure();
  await dataDir.claimPidFile();
  let server: ReturnType<typeof createAgentServer> | undefined;
  let heartbeats: Heartbeats | undefined;
  let samplePush: SamplePush | undefined;
  let runtime: VolumeRuntime | undefined;
  let nbd: NbdServer | undefined;
  let workloads: Workloads | undefined;
  let meter: WriteRateMeter | undefined;
  const stop = async () => {
    await heartbeats?.stop();
    await samplePush?.stop();
    meter?.stop();
    await workloads?.close();
    await nbd?.close();
    await runtime?.close();
    if (server?.listening) {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    }
    await dataDir.releasePidFile();
  };
  try {
    let identity = await dataDir.readIdentity();
    if (!identity) requireToken(options);
    const volumes = await VolumeManager.open(dataDir);
    const volumeRuntime = (runtime = new VolumeRuntime(volumes, options.dataDir, log));
    await volumeRuntime.open();
    meter = new WriteRateMeter(() => volumeRuntime.openVolumes());
    meter.start();
    volumes.onChange(() => void volumeRuntime.openNew().catch((error: unknown) => log.error('cannot open a new volume', { error: (error as Error).message })));
    nbd = createNbdServer({
      exports: (name) => volumeRuntime.openDevice(name),
      list: () => volumeRuntime.exportNames().map((name) => ({ name, description: `Tern volume ${name}` })),
      logger: log,
    });
    const nbdSocket = path.join(options.dataDir, 'nbd.sock');
    await nbd.listenUnix(nbdSocket);
    const nbdTcp = options.nbdListen ? await nbd.listenTcp(options.nbdListen.host, options.nbdListen.port) : undefined;
    log.info('NBD exports ready', { socket: nbdSocket, tcp: nbdTcp ? `${nbdTcp.host}:${nbdTcp.port}` : null });
    workloads = new Workloads(volumeRuntime);
    server = createAgentServer({ volumes, runtime: volumeRuntime, workloads, consoleKeySha256: () => identity?.consoleKeySha256, log });
    server.listen(options.listenPort, options.listenHost);
    await once(server, 'listening');
    const agentUrl = options.advertiseUrl ?? urlOf(server.address() as AddressInfo);
    log.info('listening', { agentUrl, dataDir: options.dataDir, agentVersion });

    if (identity) {
      if (options.token) log.info('already enrolled; ignoring the enrolment token', { hostId: identity.hostId });
      if (identity.hostname !== options.hostname) {
        log.warn('hostname differs from the one this host enrolled with; the console keeps the enrolled name', {
          enrolledHostname: identity.hostname,
          hostname: options.hostname,
        });
      }
    }
    identity ??= await enrol(dataDir, options, { token: requireToken(options), hostname: options.hostname, agentUrl, agentVersion }, log, signal);

    heartbeats = startHeartbeats({
      consoleUrl: options.consoleUrl,
      hostId: identity.hostId,
      credential: identity.credential,
      agentUrl,
      agentVersion,
      intervalMs: options.heartbeatIntervalMs,
      inventory: () => volumes.inventory(),
      writeRates: () => meter?.rates() ?? [],
      log,
    });
    volumes.onChange(() => heartbeats?.now());
    const push = (samplePush = startSamplePush({ consoleUrl: options.consoleUrl, hostId: identity.hostId, credential: identity.credential, source: volumeRuntime, log }));
    volumeRuntime.onSample(() => push.notify());
    push.notify();
    log.info('started', { hostId: identity.hostId, agentUrl });
    return { hostId: identity.hostId, agentUrl, stop };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

function requireToken(options: AgentOptions): string {
  if (options.token) return options.token;
  throw new NotEnrolledError(`this host is not enrolled (no identity in ${options.dataDir}); pass --token or set TERN_ENROL_TOKEN with a token from the console`);
}

async function enrol(dataDir: DataDir, options: AgentOptions, request: EnrolRequest, log: Logger, signal: AbortSignal): Promise<Identity> {
  log.info('enrolling with the console', { consoleUrl: options.consoleUrl, hostname: request.hostname });
  const enrolled = await enrolWithConsole(options.consoleUrl, request, log, signal);
  const identity: Identity = {
    hostId: enrolled.hostId,
    hostname: request.hostname,
    consoleUrl: options.consoleUrl,
    credential: enrolled.credential,
    consoleKeySha256: sha256Hex(enrolled.consoleKey),
    enrolledAt: new Date().toISOString(),
  };
  await dataDir.writeIdentity(identity);
  log.info('enrolled', { hostId: identity.hostId, hostname: identity.hostname });
  return identity;
}

function urlOf(address: AddressInfo): string {
  const wildcard = address.address === '0.0.0.0' || address.address === '::';
  const host = wildcard ? os.hostname() : address.address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}
