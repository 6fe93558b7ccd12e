/**
 * The application of a scenario: what writes to the volume while it moves. Either Tern's own
 * workload generator in this process, or fio in its own process writing over NBD (as a real
 * application would), when fio is installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { BlockDevice } from '../server/dataplane/block-device';
import { createNbdServer, type NbdServer } from '../server/dataplane/nbd/server';
import { Workload } from '../server/dataplane/workload';

export interface AppWriter {
  start(device: BlockDevice): Promise<void>;
  stop(): Promise<void>;
}

export interface WriterSpec {
  /** How the table names it. */
  label: string;
  create(workDir: string): AppWriter;
}

const BLOCK_BYTES = 4096;
const DEPTH = 16;
const EXPORT_NAME = 'vol';

export function hasFio(): boolean {
  return spawnSync('fio', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Random 4 KiB writes from the in-process workload generator; null rate is unbounded. */
export function inProcessWriter(writeRateBytesPerS: number | null): WriterSpec {
  const rate = writeRateBytesPerS === null ? 'unbounded' : `${writeRateBytesPerS / 1024 / 1024} MiB/s`;
  return {
    label: `in-process workload, random 4 KiB, depth ${DEPTH}, ${rate}`,
    create() {
      let workload: Workload | null = null;
      return {
        async start(device) {
          workload = new Workload(device, { blockSizeBytes: BLOCK_BYTES, writeRateBytesPerS, pattern: 'random', depth: DEPTH, seed: 7 });
          workload.start();
        },
        async stop() {
          await workload?.stop();
        },
      };
    },
  };
}

/** fio's nbd engine, random 4 KiB writes at iodepth 16, as fast as the volume answers. */
export function fioWriter(): WriterSpec {
  return {
    label: `fio --ioengine=nbd over a Unix socket, randwrite 4 KiB, iodepth ${DEPTH}, unbounded`,
    create(workDir) {
      let server: NbdServer | null = null;
      let fio: ChildProcess | null = null;
      let exited: Promise<void> = Promise.resolve();
      let stopping = false;
      return {
        async start(device) {
          const socketPath = path.join(workDir, 'nbd.sock');
          server = createNbdServer({ exports: (name) => (name === EXPORT_NAME ? device : undefined), list: () => [{ name: EXPORT_NAME, description: 'benchmark volume' }] });
          await server.listenUnix(socketPath);
          fio = spawn('fio', fioArgs(`nbd+unix:///${EXPORT_NAME}?socket=${socketPath}`), { cwd: workDir, stdio: ['ignore', 'ignore', 'pipe'] });
          let stderr = '';
          fio.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          exited = new Promise((resolve, reject) => {
            // Asked to stop, fio exits with a code of its own choosing; before that, any exit is a failure.
            fio?.once('exit', (code, signal) => (stopping || code === 0 ? resolve() : reject(new Error(`fio exited early (${code ?? signal}): ${stderr.trim()}`))));
          });
          exited.catch(() => undefined); // awaited in stop(); an early exit shows there
        },
        async stop() {
          stopping = true;
          fio?.kill('SIGINT');
          try {
            await exited;
          } finally {
            await server?.close();
          }
        },
      };
    },
  };
}

function fioArgs(uri: string): string[] {
  return ['--name=app', '--ioengine=nbd', `--uri=${uri}`, '--rw=randwrite', `--bs=${BLOCK_BYTES}`, `--iodepth=${DEPTH}`, '--time_based', '--runtime=3600', '--norandommap', '--randrepeat=0', '--output-format=json'];
}
