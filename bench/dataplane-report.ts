/**
 * The data-plane benchmark's tables and bars: medians with [min–max] over the runs, every Tern
 * figure beside its ratio to the plain copy measured in the same run.
 */
import type { Method, TrialResult } from './dataplane-trial';
import type { Machine } from './machine';
import { ratio, spread, type Spread } from './stats';
import { formatRatio, formatSpread, markdownTable, textTable, type Cells } from './table';

export interface ScenarioResult {
  name: string;
  writerLabel: string | null;
  trials: Record<Method, TrialResult[]>;
}

export interface DataplaneReport {
  machine: Machine;
  sizeBytes: number;
  runs: number;
  quick: boolean;
  hotCache: boolean;
  pauseBudgetMs: number;
  qemu: string;
  scenarios: ScenarioResult[];
}

export interface Bar {
  bar: string;
  met: boolean | null;
  evidence: string;
}

const METHODS: readonly Method[] = ['plain', 'mirror', 'precopy'];
const METHOD_LABEL: Record<Method, string> = { plain: 'plain copy (baseline)', mirror: 'Tern mirror', precopy: 'Tern pre-copy' };

type Pick = (trial: TrialResult) => number | null;
const pick = {
  convergeS: (trial) => trial.convergeS,
  totalS: (trial) => trial.totalS,
  switchPauseMs: (trial) => trial.switchPauseMs,
  jobPauseMs: (trial) => trial.jobPauseMs,
  iopsBefore: (trial) => trial.before?.iops ?? null,
  iopsDuring: (trial) => trial.during?.iops ?? null,
  p50BeforeMs: (trial) => trial.before?.p50Ms ?? null,
  p50DuringMs: (trial) => trial.during?.p50Ms ?? null,
  p99BeforeMs: (trial) => trial.before?.p99Ms ?? null,
  p99DuringMs: (trial) => trial.during?.p99Ms ?? null,
} satisfies Record<string, Pick>;

/** "not converging, switched to mirror (2/3)": each distinct note with how many runs had it. */
function countedNotes(trials: readonly TrialResult[]): string {
  const counts = new Map<string, number>();
  for (const trial of trials) if (trial.note) counts.set(trial.note, (counts.get(trial.note) ?? 0) + 1);
  return [...counts].map(([note, count]) => `${note} (${count}/${trials.length})`).join('; ');
}

function spreadOf(trials: readonly TrialResult[], figure: Pick): Spread | null {
  return spread(trials.map(figure));
}

function medianOf(trials: readonly TrialResult[], figure: Pick): number | null {
  return spreadOf(trials, figure)?.median ?? null;
}

function copiedPerVolume(trials: readonly TrialResult[], sizeBytes: number): Spread | null {
  return spread(trials.map((trial) => trial.copiedBytes / sizeBytes));
}

/** A figure and, for Tern, its ratio to the plain copy's median. */
function withRatio(trials: readonly TrialResult[], plain: readonly TrialResult[], figure: Pick, digits: number, method: Method): string[] {
  const value = formatSpread(spreadOf(trials, figure), digits);
  return [value, method === 'plain' ? '1.00×' : formatRatio(ratio(medianOf(trials, figure), medianOf(plain, figure)))];
}

const COPY_HEADERS: Cells = ['scenario', 'method', 'converge s', '×plain', 'total s', '×plain', 'switch pause ms (app)', 'job hold ms', 'copied ÷ volume', 'converged', 'notes'];

function copyRows(report: DataplaneReport): Cells[] {
  return report.scenarios.flatMap((scenario) =>
    METHODS.map((method) => {
      const trials = scenario.trials[method];
      const plain = scenario.trials.plain;
      return [
        scenario.name,
        METHOD_LABEL[method],
        ...withRatio(trials, plain, pick.convergeS, 2, method),
        ...withRatio(trials, plain, pick.totalS, 2, method),
        formatSpread(spreadOf(trials, pick.switchPauseMs), 1),
        formatSpread(spreadOf(trials, pick.jobPauseMs), 0),
        formatSpread(copiedPerVolume(trials, report.sizeBytes), 2),
        `${trials.filter((trial) => trial.converged).length}/${trials.length}`,
        countedNotes(trials),
      ];
    }),
  );
}

const APP_HEADERS: Cells = ['scenario', 'method', 'IOPS before', 'IOPS during', 'during÷before', '×plain', 'p50 ms before', 'p50 ms during', '×plain', 'p99 ms before', 'p99 ms during', '×plain'];

function appRows(report: DataplaneReport): Cells[] {
  return report.scenarios
    .filter((scenario) => scenario.writerLabel !== null)
    .flatMap((scenario) =>
      METHODS.map((method) => {
        const trials = scenario.trials[method];
        const plain = scenario.trials.plain;
        const [iopsDuring = '—', iopsRatio = '—'] = withRatio(trials, plain, pick.iopsDuring, 0, method);
        return [
          scenario.name,
          METHOD_LABEL[method],
          formatSpread(spreadOf(trials, pick.iopsBefore), 0),
          iopsDuring,
          formatRatio(ratio(medianOf(trials, pick.iopsDuring), medianOf(trials, pick.iopsBefore))),
          iopsRatio,
          formatSpread(spreadOf(trials, pick.p50BeforeMs), 2),
          ...withRatio(trials, plain, pick.p50DuringMs, 2, method),
          formatSpread(spreadOf(trials, pick.p99BeforeMs), 2),
          ...withRatio(trials, plain, pick.p99DuringMs, 2, method),
        ];
      }),
    );
}

/** The bars, judged from the medians (convergence and copied bytes from every run). */
export function judgeBars(report: DataplaneReport): Bar[] {
  const [idle, , unbounded] = report.scenarios;
  const bars: Bar[] = [];
  if (idle) {
    for (const method of ['mirror', 'precopy'] as const) {
      const speed = ratio(medianOf(idle.trials.plain, pick.convergeS), medianOf(idle.trials[method], pick.convergeS));
      bars.push({ bar: `idle ${method} copies at ≥ 0.9× the plain copy's speed`, met: speed === null ? null : speed >= 0.9, evidence: `plain ÷ Tern time = ${formatRatio(speed)}` });
    }
  }
  const all = report.scenarios.flatMap((scenario) => (['mirror', 'precopy'] as const).flatMap((method) => scenario.trials[method]));
  const unconverged = all.filter((trial) => !trial.converged).length;
  bars.push({ bar: 'every Tern migration converges', met: unconverged === 0, evidence: `${all.length - unconverged}/${all.length} converged` });
  if (unbounded && idle) {
    for (const method of ['mirror', 'precopy'] as const) {
      const trials = unbounded.trials[method];
      const kept = ratio(medianOf(trials, pick.iopsDuring), medianOf(trials, pick.iopsBefore));
      bars.push({ bar: `unbounded writer, ${method}: the application keeps ≥ 0.5× its IOPS during the copy`, met: kept === null ? null : kept >= 0.5, evidence: `during ÷ before = ${formatRatio(kept)}` });
      const slower = ratio(medianOf(trials, pick.convergeS), medianOf(idle.trials[method], pick.convergeS));
      const slowerThanPlain = ratio(medianOf(trials, pick.convergeS), medianOf(idle.trials.plain, pick.convergeS));
      bars.push({
        bar: `unbounded writer, ${method}: converges within 3× the idle ${method} time`,
        met: slower === null ? false : slower <= 3,
        evidence: `${formatRatio(slower)} the idle ${method} time (${formatRatio(slowerThanPlain)} the idle plain copy)`,
      });
    }
  }
  const mirrors = report.scenarios.flatMap((scenario) => scenario.trials.mirror);
  const mostCopied = Math.max(...mirrors.map((trial) => trial.copiedBytes / report.sizeBytes));
  bars.push({ bar: 'mirror copies ≤ 1.2× the volume', met: mostCopied <= 1.2, evidence: `at most ${mostCopied.toFixed(2)}× in any run` });
  const longestMirrorHoldMs = Math.max(...mirrors.map((trial) => trial.jobPauseMs ?? 0));
  const longestMirrorAppMs = Math.max(...mirrors.map((trial) => trial.switchPauseMs ?? 0));
  bars.push({
    bar: 'mirror shows no pause at cutover (writes never held: job hold ≤ 1 ms)',
    met: longestMirrorHoldMs <= 1,
    evidence: `job held writes up to ${longestMirrorHoldMs} ms; longest application write around the switch ${longestMirrorAppMs.toFixed(1)} ms`,
  });
  const precopies = report.scenarios.flatMap((scenario) => scenario.trials.precopy);
  const longestPrecopyMs = Math.max(...precopies.map((trial) => Math.max(trial.jobPauseMs ?? 0, trial.switchPauseMs ?? 0)));
  bars.push({ bar: `pre-copy cutover pause within its ${report.pauseBudgetMs} ms budget`, met: longestPrecopyMs <= report.pauseBudgetMs, evidence: `longest pause (job hold or application write around the switch) ${longestPrecopyMs.toFixed(1)} ms` });
  return bars;
}

function barLines(report: DataplaneReport): string[] {
  return judgeBars(report).map(({ bar, met, evidence }) => `${met === null ? '?' : met ? 'MET   ' : 'MISSED'}  ${bar}: ${evidence}`);
}

function setupLines(report: DataplaneReport): string[] {
  const { machine } = report;
  return [
    `${report.quick ? 'QUICK RUN (development figures, not the benchmark): ' : ''}volume ${(report.sizeBytes / 1024 ** 2).toFixed(0)} MiB, ${report.runs} run(s) per method, alternated plain / mirror / pre-copy; ${report.hotCache ? 'HOT CACHE (the page cache could not be dropped)' : 'page cache dropped before every run'}.`,
    ...report.scenarios.map((scenario) => `Scenario ${scenario.name}: ${scenario.writerLabel ?? 'no application writes'}.`),
    `QEMU mirror: ${report.qemu}.`,
    `Machine: ${machine.cpu}, ${machine.memoryGiB} GiB RAM, ${machine.kernel}, Node ${machine.node}; load average at start ${machine.loadAverage} (1/5/15 min); ${machine.date}; commit ${machine.commit}.`,
  ];
}

export function renderText(report: DataplaneReport): string {
  return [
    ...setupLines(report),
    '',
    'Copy',
    textTable(COPY_HEADERS, copyRows(report)),
    '',
    'Application writes (before: a window ahead of the copy; during: from the start of the copy to the switch)',
    textTable(APP_HEADERS, appRows(report)),
    '',
    'Bars',
    ...barLines(report),
  ].join('\n');
}

export function renderMarkdown(report: DataplaneReport): string {
  return [
    '## Data plane',
    '',
    '`npm run bench -- dataplane --markdown` (bench/dataplane.ts). Figures are medians with [min–max] over the runs; `×plain` is the ratio of the median to the plain copy measured in the same run.',
    'Converge: from the start until the data is durable on the target (plain: after the fsync; Tern: after the switch). Total adds Tern\'s verification.',
    'Switch pause (app): the longest application write latency, measured at the volume and including any wait at the cutover gate, among writes finishing between the start of the cutover and 250 ms after it. Job hold: MigrationJob `status.cutoverPauseMs`.',
    '',
    ...setupLines(report).map((line) => `- ${line}`),
    '',
    '### Copy',
    '',
    markdownTable(COPY_HEADERS, copyRows(report)),
    '',
    '### Application writes',
    '',
    markdownTable(APP_HEADERS, appRows(report)),
    '',
    '### Bars',
    '',
    ...barLines(report).map((line) => `- ${line}`),
    '',
  ].join('\n');
}
