/**
 * Fault injection on a LUN, after QEMU's blkdebug: a rules file beside the LUN
 * (`<lun path>.faults.json`, a JSON array of rules) makes the plex's I/O fail, slow down or go
 * silently wrong where a rule says so. `Plex.open` wraps a LUN in a `FaultyIo` when the file
 * exists at open; the wrapper re-reads the file whenever it is replaced, so a test (or the fault
 * array driver) can change a LUN's faults while a volume or a migration has it open. A LUN
 * without the file is opened as it always was: one `stat` at open is the whole cost.
 *
 * A rule: which operation (`read`, `write`, `flush`); which byte range an I/O must overlap
 * (absent: anywhere); how often (`always`, or `once` per open and per rules file); from when
 * (`afterBytes`: only once that many bytes of the operation have succeeded through this open,
 * so `{ op: 'write', afterBytes: N, errno: 'ENOSPC' }` is "ENOSPC after N bytes"); what happens:
 * `latencyMs` added first, then `errno` fails the I/O, or `silent` makes a write report success
 * while it is lost (`drop`) or lands with its first bit flipped (`flip`). The first rule that
 * matches an I/O applies. Counters and `once` marks start afresh when the file is replaced.
 *
 * Nothing here knows of the console: the file is the whole contract.
 */
import { readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { PlexIo } from './plex';

export const faultRule = z
  .object({
    op: z.enum(['read', 'write', 'flush']),
    offset: z.number().int().nonnegative().optional(),
    length: z.number().int().positive().optional(),
    when: z.enum(['once', 'always']).default('always'),
    afterBytes: z.number().int().nonnegative().optional(),
    errno: z.enum(['EIO', 'ENOSPC']).optional(),
    latencyMs: z.number().int().nonnegative().max(60_000).optional(),
    silent: z.enum(['drop', 'flip']).optional(),
  })
  .strict()
  .refine((rule) => rule.errno !== undefined || rule.latencyMs !== undefined || rule.silent !== undefined, {
    message: 'a fault rule needs errno, latencyMs or silent: otherwise it does nothing',
  })
  .refine((rule) => rule.silent === undefined || (rule.op === 'write' && rule.errno === undefined), {
    message: 'silent applies to writes without an errno',
  });
export type FaultRule = z.input<typeof faultRule>;
export const faultRules = z.array(faultRule).max(100);

/** Where a LUN's fault rules live. */
export function faultRulesPath(lunPath: string): string {
  return `${lunPath}.faults.json`;
}

/** The LUN's I/O, wrapped in its fault rules when a rules file sits beside it. */
export async function withFaultRules(io: PlexIo, lunPath: string): Promise<PlexIo> {
  const file = faultRulesPath(lunPath);
  const exists = await stat(file).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
  if (!exists) return io;
  const faulty = new FaultyIo(io, file);
  await faulty.refresh();
  return faulty;
}

type Op = z.infer<typeof faultRule>['op'];
type Rule = z.infer<typeof faultRule>;

export class FaultyIo implements PlexIo {
  private rules: Rule[] = [];
  private version = '';
  private readonly fired = new Set<number>();
  private readonly doneBytes: Record<Op, number> = { read: 0, write: 0, flush: 0 };

  constructor(
    private readonly inner: PlexIo,
    readonly rulesFile: string,
  ) {}

  /** Re-reads the rules when their file was replaced or removed since the last look. */
  async refresh(): Promise<void> {
    const info = await stat(this.rulesFile, { bigint: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    const version = info ? `${info.ino}:${info.mtimeNs}:${info.size}` : 'none';
    if (version === this.version) return;
    let rules: Rule[] = [];
    if (info) {
      const text = await readFile(this.rulesFile, 'utf8');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (error) {
        throw ruleFileError(this.rulesFile, (error as Error).message);
      }
      const parsed = faultRules.safeParse(json);
      if (!parsed.success) throw ruleFileError(this.rulesFile, parsed.error.issues.map(describeIssue).join('; '));
      rules = parsed.data;
    }
    this.rules = rules;
    this.version = version;
    this.fired.clear();
    this.doneBytes.read = this.doneBytes.write = this.doneBytes.flush = 0;
  }

  async read(buffer: Buffer, offset: number, length: number, position: number) {
    await this.apply('read', position, length);
    const result = await this.inner.read(buffer, offset, length, position);
    this.doneBytes.read += result.bytesRead;
    return result;
  }

  async write(buffer: Buffer, offset: number, length: number, position: number) {
    const rule = await this.apply('write', position, length);
    let result: { bytesWritten: number };
    if (rule?.silent === 'drop') {
      result = { bytesWritten: length };
    } else if (rule?.silent === 'flip') {
      const altered = Buffer.from(buffer.subarray(offset, offset + length));
      if (altered.length > 0) altered[0] = (altered[0] ?? 0) ^ 1;
      result = await this.inner.write(altered, 0, length, position);
    } else {
      result = await this.inner.write(buffer, offset, length, position);
    }
    this.doneBytes.write += result.bytesWritten;
    return result;
  }

  async datasync() {
    await this.apply('flush', 0, 0);
    await this.inner.datasync();
  }

  close() {
    return this.inner.close();
  }

  /** Finds the rule for this I/O, adds its latency, and throws its error; returns it for silent actions. */
  private async apply(op: Op, position: number, length: number): Promise<Rule | undefined> {
    await this.refresh();
    const index = this.rules.findIndex((rule, at) => {
      if (rule.op !== op) return false;
      if (rule.when === 'once' && this.fired.has(at)) return false;
      if (rule.afterBytes !== undefined && this.doneBytes[op] + length <= rule.afterBytes) return false;
      if (rule.offset === undefined && rule.length === undefined) return true;
      const start = rule.offset ?? 0;
      const end = rule.length === undefined ? Number.POSITIVE_INFINITY : start + rule.length;
      return op === 'flush' || (position < end && position + Math.max(length, 1) > start);
    });
    const rule = this.rules[index];
    if (!rule) return undefined;
    this.fired.add(index);
    if (rule.latencyMs) await sleep(rule.latencyMs);
    if (rule.errno) {
      const where = op === 'flush' ? '' : ` at offset ${position}`;
      throw Object.assign(new Error(`${rule.errno}: injected ${op} fault${where} (rule ${index + 1} of ${this.rulesFile})`), { code: rule.errno });
    }
    return rule;
  }
}

/** "rule 2 errno: Invalid option…", numbering rules from 1 as a reader of the file would. */
function describeIssue(issue: z.core.$ZodIssue): string {
  const [index, ...field] = issue.path;
  const where = typeof index === 'number' ? `rule ${index + 1}${field.length > 0 ? ` ${field.join('.')}` : ''}: ` : '';
  return `${where}${issue.message}`;
}

function ruleFileError(file: string, why: string): Error {
  return Object.assign(new Error(`fault rules file ${file} is not valid: ${why}`), { code: 'EINVAL' });
}
