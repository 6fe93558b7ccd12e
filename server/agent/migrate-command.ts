/**
 * `npm run agent -- migrate …`: moves one volume on this host without the console, printing
 * progress once a second. It works on the agent's data folder directly, so the agent must not be
 * running on it (the pid file says so). The job is the same one the agent runs: stop this command
 * (Ctrl-C) and the job's state and dirty-region log stay; the agent, or this command again,
 * resumes it.
 *
 *   --data-dir DIR         the agent's data folder (or TERN_AGENT_DATA_DIR)
 *   --volume DG/VOL        the volume, as its NBD export name
 *   --to-lun ID|WWN        a LUN mapped to this host
 *   --to-path PATH         or a file or device path, recorded as a local LUN
 *   --strategy S           mirror (default) or precopy
 *   --throttle MIB_PER_S   copy rate limit
 *   --no-commit            stop at "verified", leaving the source for a rollback
 *   --id ID                the job id (default: a new one)
 */
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { MigrationStatus } from '../protocol/agent-api';
import type { Logger } from './log';
import { UsageError } from './options';
import { DataDir } from './store';
import { VolumeManager } from './volume-manager';
import { VolumeRuntime } from './volume-runtime';

const MiB = 1024 * 1024;

export async function migrateCommand(argv: string[], env: NodeJS.ProcessEnv, log: Logger, print: (line: string) => void): Promise<MigrationStatus> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string' },
      volume: { type: 'string' },
      'to-lun': { type: 'string' },
      'to-path': { type: 'string' },
      strategy: { type: 'string', default: 'mirror' },
      throttle: { type: 'string' },
      'no-commit': { type: 'boolean', default: false },
      id: { type: 'string' },
    },
    strict: true,
  });
  const dataDirPath = values['data-dir'] ?? env.TERN_AGENT_DATA_DIR;
  if (!dataDirPath) throw new UsageError('migrate needs --data-dir (the agent data folder)');
  if (!values.volume) throw new UsageError('migrate needs --volume DG/VOL');
  if (!values['to-lun'] === !values['to-path']) throw new UsageError('migrate needs exactly one of --to-lun and --to-path');
  if (values.strategy !== 'mirror' && values.strategy !== 'precopy') throw new UsageError(`--strategy must be mirror or precopy, not ${values.strategy}`);
  const throttle = values.throttle === undefined ? null : Number(values.throttle);
  if (throttle !== null && !(throttle > 0)) throw new UsageError(`--throttle must be a positive number of MiB/s, not ${values.throttle}`);

  const dataDir = new DataDir(path.resolve(dataDirPath));
  await dataDir.claimPidFile();
  const config = await VolumeManager.open(dataDir);
  const runtime = new VolumeRuntime(config, dataDir.dir, log);
  try {
    await runtime.open();
    const targetLunId = await resolveTarget(config, values['to-lun'], values['to-path']);
    const id = values.id ?? `cli-${randomUUID().slice(0, 8)}`;
    const existing = runtime.list().find((job) => job.id === id);
    if (!existing) {
      await runtime.startMigration({ id, volume: values.volume, targetLunId, strategy: values.strategy, throttleBytesPerS: throttle === null ? null : Math.round(throttle * MiB) });
    }
    print(`migrating ${values.volume} (${values.strategy}) as job ${id}`);
    for (;;) {
      const status = runtime.get(id);
      print(progressLine(status));
      if (status.phase === 'verified') {
        if (values['no-commit']) break;
        await runtime.act(id, 'commit');
        continue;
      }
      if (['committed', 'failed', 'cancelled', 'rolled-back'].includes(status.phase)) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const final = runtime.get(id);
    print(`${final.result ?? final.phase}${final.verify ? ` · verification ${final.verify.ok ? 'passed' : 'FAILED'} (${final.verify.regionsCompared} regions compared, ${final.verify.regionsSkipped} written after the switch)` : ''}`);
    return final;
  } finally {
    await runtime.close();
    await dataDir.releasePidFile();
  }
}

async function resolveTarget(config: VolumeManager, lun: string | undefined, file: string | undefined): Promise<string> {
  if (lun) {
    const known = config.findLun(lun);
    if (!known) throw new UsageError(`no LUN ${lun} (by id or WWN) is mapped to this host`);
    return known.lunId;
  }
  const lunPath = path.resolve(file ?? '');
  const info = await stat(lunPath).catch(() => undefined);
  if (!info) throw new UsageError(`--to-path ${lunPath} does not exist; create it first (for a file: truncate -s SIZE ${lunPath})`);
  const lunId = randomUUID();
  await config.mapLun(lunId, { wwn: `local-${lunId.slice(0, 8)}`, arrayId: randomUUID(), arrayName: 'local', path: lunPath, sizeBytes: info.isFile() ? info.size : Number.MAX_SAFE_INTEGER });
  return lunId;
}

function progressLine(status: MigrationStatus): string {
  const sample = status.sample;
  const synced = status.regionsTotal ? Math.floor(((status.regionsTotal - status.regionsDirty) / status.regionsTotal) * 100) : 100;
  const rate = sample ? `${(sample.copyRateBytesPerS / MiB).toFixed(1)} MiB/s` : '—';
  const left = sample ? `${(sample.leftBytes / MiB).toFixed(1)} MiB left` : `${status.regionsDirty} regions left`;
  const eta = sample?.predictedConvergeS !== null && sample?.predictedConvergeS !== undefined ? ` · converges in ~${sample.predictedConvergeS} s` : '';
  return `${status.phase}${status.paused ? ' (paused)' : ''} · pass ${status.pass} · ${synced}% in sync · ${rate} · ${left}${eta}`;
}
