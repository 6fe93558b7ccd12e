/**
 * Pushes each running job's samples to the console as they are taken (POST
 * /api/agent/v1/samples), so a browser watching a migration sees a sample within milliseconds,
 * not at the engine's next tick. Samples taken close together on the host's jobs go in one
 * request. What the console has acknowledged is never sent again; what it has not (it was away,
 * it refused) goes with the next push, up to the last MAX_PUSHED_SAMPLES_PER_JOB per job, so the
 * console catches up when it returns. The engine also pulls when pushes fall behind, so a failed
 * push loses nothing; it only makes the console's view later.
 */
import { MAX_PUSHED_SAMPLES_PER_JOB, sampleReportResponse, type MigrationSample, type SampleReport } from '../protocol/agent-api';
import { OutcomeLog, postToConsole } from './console-post';
import type { Logger } from './log';

export interface SampleSource {
  /** Each running job's samples, oldest first. */
  jobSamples(): Iterable<{ id: string; samples: readonly MigrationSample[] }>;
}

export interface SamplePushDeps {
  consoleUrl: string;
  hostId: string;
  credential: string;
  source: SampleSource;
  log: Logger;
  /** How long a push waits for other jobs' samples of the same moment (default 20 ms). */
  coalesceMs?: number;
}

export interface SamplePush {
  /** A job took a sample: push soon. */
  notify(): void;
  stop(): Promise<void>;
}

const PUSH_TIMEOUT_MS = 5_000;
const REPEAT_FAILURE_LOG_EVERY = 60;

export function startSamplePush(deps: SamplePushDeps): SamplePush {
  const url = `${deps.consoleUrl}/api/agent/v1/samples`;
  /** Per job, the newest sample time the console acknowledged (or named as not its to follow). */
  const acknowledged = new Map<string, string>();
  /** Jobs the console said it does not follow for this host: their samples are not sent again. */
  const ignored = new Set<string>();
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  let again = false;
  let stopped = false;

  function pending(): SampleReport['migrations'] {
    const report = [];
    const live = new Set<string>();
    for (const { id, samples } of deps.source.jobSamples()) {
      live.add(id);
      if (ignored.has(id)) continue;
      const after = acknowledged.get(id);
      const fresh = after === undefined ? samples : samples.filter((sample) => sample.at > after);
      if (fresh.length) report.push({ id, samples: fresh.slice(-MAX_PUSHED_SAMPLES_PER_JOB) });
    }
    for (const id of acknowledged.keys()) if (!live.has(id)) acknowledged.delete(id);
    for (const id of ignored) if (!live.has(id)) ignored.delete(id);
    return report;
  }

  const outcomes = new OutcomeLog(
    deps.log,
    REPEAT_FAILURE_LOG_EVERY,
    { ok: 'samples reach the console again', failed: () => 'cannot push samples to the console; it pulls them meanwhile' },
    'ok',
  );

  async function push(): Promise<void> {
    const migrations = pending();
    if (migrations.length === 0) return;
    const answer = await postToConsole(url, deps, { migrations } satisfies SampleReport, stopping.signal, PUSH_TIMEOUT_MS);
    if (!answer) return;
    const accepted = answer.outcome === 'ok' ? sampleReportResponse.safeParse(answer.payload) : undefined;
    if (accepted?.success) {
      for (const { id, samples } of migrations) acknowledged.set(id, samples.at(-1)!.at);
      for (const id of accepted.data.ignored) ignored.add(id);
      if (accepted.data.ignored.length) deps.log.info('console does not follow these migrations; their samples are not sent again', { ignored: accepted.data.ignored });
    }
    outcomes.record(accepted && !accepted.success ? 'refused: the console answered something other than a sample report' : answer.outcome, { url });
  }

  function run() {
    timer = undefined;
    if (stopped) return;
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = push().finally(() => {
      inFlight = undefined;
      if (again && !stopped) {
        again = false;
        run();
      }
    });
  }

  return {
    notify() {
      if (stopped || timer) return;
      timer = setTimeout(run, deps.coalesceMs ?? 20);
      timer.unref();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      stopping.abort();
      await inFlight;
    },
  };
}
