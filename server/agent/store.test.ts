import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAgentOptions, parseListen } from './options';
import { DataDir } from './store';
import { VolumeManager } from './volume-manager';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tern-agent-store-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('agent data folder', () => {
  it('writes files whole with the given mode and leaves no temporary files', async () => {
    const data = new DataDir(dir);
    await data.writeIdentity({
      hostId: '00000000-0000-4000-8000-000000000001',
      hostname: 'h',
      consoleUrl: 'http://c',
      credential: 'c'.repeat(43),
      consoleKeySha256: 'a'.repeat(64),
      enrolledAt: new Date().toISOString(),
    });
    await data.writeState({ luns: [], diskGroups: [{ name: 'dg', volumes: [] }] });
    expect((await stat(data.identityFile)).mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).sort()).toEqual(['identity.json', 'state.json']);
    expect((await data.readState()).diskGroups).toEqual([{ name: 'dg', volumes: [] }]);
  });

  it('refuses to start on a corrupt state file instead of forgetting the volumes', async () => {
    const data = new DataDir(dir);
    await writeFile(data.stateFile, '{"luns": [');
    await expect(VolumeManager.open(data)).rejects.toThrow(`${data.stateFile} is not valid JSON`);
    expect(await readFile(data.stateFile, 'utf8')).toBe('{"luns": [');
  });

  it('refuses a data folder held by a live process and takes over one left by a dead process', async () => {
    const data = new DataDir(dir);
    await writeFile(data.pidFile, `${process.ppid}\n`);
    await expect(data.claimPidFile()).rejects.toThrow(/another agent \(pid \d+\) is using/);
    await writeFile(data.pidFile, '999999999\n');
    await data.claimPidFile();
    expect((await readFile(data.pidFile, 'utf8')).trim()).toBe(String(process.pid));
    await data.releasePidFile();
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('agent options', () => {
  it('reads flags before environment variables and applies defaults', () => {
    const options = parseAgentOptions(['--console', 'http://console:3000/', '--listen', '[::1]:7000'], {
      TERN_CONSOLE_URL: 'http://ignored',
      TERN_AGENT_DATA_DIR: 'agent-data',
      TERN_ENROL_TOKEN: '',
    });
    expect(options).toMatchObject({ consoleUrl: 'http://console:3000', listenHost: '::1', listenPort: 7000, token: undefined, heartbeatIntervalMs: 3000 });
    expect(options.dataDir).toBe(path.resolve('agent-data'));
    expect(parseListen(':8080')).toEqual({ host: '0.0.0.0', port: 8080 });
  });

  it('says what is missing or wrong', () => {
    expect(() => parseAgentOptions([], {})).toThrow(/--console URL or set TERN_CONSOLE_URL/);
    expect(() => parseAgentOptions(['--console', 'http://c'], {})).toThrow(/--data-dir DIR/);
    expect(() => parseAgentOptions(['--console', 'http://c', '--data-dir', 'd', '--listen', 'nope'], {})).toThrow(/not HOST:PORT/);
    expect(() => parseAgentOptions(['--console', 'http://c', '--data-dir', 'd', '--bogus'], {})).toThrow(/bogus/);
  });
});
