/**
 * The agent's data folder: `identity.json` (host id, credential, hash of the console key; mode
 * 0600), `state.json` (the LUNs the console mapped to this host and the volume configuration:
 * disk groups → volumes → plexes) and `agent.pid`.
 *
 * Durability invariant: a file here is only ever replaced whole, by writing a temporary file,
 * fsyncing it, renaming it over the old one and fsyncing the folder. After a crash or power loss
 * at any instant each file holds either its previous or its new content, never a mix, and every
 * change the agent has acknowledged (an HTTP reply, an "enrolled" log line) is already on disk.
 * LUNs and volumes share one file so that one rename moves both: a plex can never refer to a LUN
 * the agent has forgotten. A file that exists but does not parse stops the agent with the path
 * in the message; it is never silently replaced, since that would lose the volume configuration.
 */
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../dataplane/durable-file';
import { diskGroupReport, lunSeen } from '../protocol/agent-api';

export const identitySchema = z.object({
  hostId: z.uuid(),
  hostname: z.string(),
  consoleUrl: z.string(),
  credential: z.string().min(32),
  /** SHA-256 (hex) of the key the console presents; the key itself is never stored here. */
  consoleKeySha256: z.string().regex(/^[0-9a-f]{64}$/),
  enrolledAt: z.string(),
});
export type Identity = z.infer<typeof identitySchema>;

export const mappedLun = lunSeen.omit({ present: true });
export type MappedLun = z.infer<typeof mappedLun>;

export const agentStateSchema = z.object({
  luns: z.array(mappedLun),
  diskGroups: z.array(diskGroupReport),
});
export type AgentState = z.infer<typeof agentStateSchema>;

export const emptyState: AgentState = { luns: [], diskGroups: [] };

export class DataDir {
  readonly identityFile: string;
  readonly stateFile: string;
  readonly pidFile: string;

  constructor(readonly dir: string) {
    this.identityFile = path.join(dir, 'identity.json');
    this.stateFile = path.join(dir, 'state.json');
    this.pidFile = path.join(dir, 'agent.pid');
  }

  async ensure(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  readIdentity(): Promise<Identity | undefined> {
    return readJson(this.identityFile, identitySchema);
  }

  writeIdentity(identity: Identity): Promise<void> {
    return writeFileAtomic(this.identityFile, `${JSON.stringify(identity, null, 2)}\n`, 0o600);
  }

  async readState(): Promise<AgentState> {
    return (await readJson(this.stateFile, agentStateSchema)) ?? emptyState;
  }

  writeState(state: AgentState): Promise<void> {
    return writeFileAtomic(this.stateFile, `${JSON.stringify(state, null, 2)}\n`, 0o600);
  }

  /** Refuses to start a second agent on the same folder; a pid file left by a killed agent is taken over. */
  async claimPidFile(): Promise<void> {
    const previous = Number((await readFile(this.pidFile, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(previous) && previous > 0 && previous !== process.pid && isAlive(previous)) {
      throw new Error(`another agent (pid ${previous}) is using ${this.dir}; stop it first, or remove ${this.pidFile} if that process is not an agent`);
    }
    await writeFileAtomic(this.pidFile, `${process.pid}\n`, 0o644);
  }

  async releasePidFile(): Promise<void> {
    const owner = (await readFile(this.pidFile, 'utf8').catch(() => '')).trim();
    if (owner === String(process.pid)) await rm(this.pidFile, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readJson<T>(file: string, schema: z.ZodType<T>): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not valid JSON (${(error as Error).message}); restore it from a backup or move it aside`);
  }
  const result = schema.safeParse(parsed);
  if (!result.success) throw new Error(`${file} is not a valid agent file: ${z.prettifyError(result.error)}`);
  return result.data;
}

/** write temp → fsync → rename → fsync folder; see the invariant at the top of this file. */
export { writeFileAtomic };

/** The size a LUN path really offers: a regular file's length, or undefined for devices. */
export async function fileSizeBytes(file: string): Promise<number | undefined> {
  const info = await stat(file);
  return info.isFile() ? info.size : undefined;
}
