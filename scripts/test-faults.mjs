#!/usr/bin/env node
// `npm run test:faults [-- --runs N --seed S --only agent-kill,partition --no-write --vitest-json F]`: the
// fault soak (faults/*.soak.test.ts, vitest.faults.config.ts), one scenario file after another,
// each repeated N times (default 3) from seed S (default: the time). Reads each scenario's
// results (test-results/faults/<scenario>.json), prints the table, and writes it with the
// environment into docs/reliability.md between its generated-table markers. Exits 1 when any
// run lost an acknowledged write, got stuck, or ended otherwise than its fault requires.
// `--vitest-json F` also writes Vitest's JSON report to F (npm test counts the runs from it).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seed: { type: 'string' },
    only: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    'vitest-json': { type: 'string' },
  },
});
const runs = Number(values.runs);
const seed = values.seed === undefined ? Date.now() % 1_000_000 : Number(values.seed);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed) || seed < 0) {
  console.error('usage: npm run test:faults -- [--runs N (a whole number ≥ 1)] [--seed S (a whole number ≥ 0)] [--only a,b] [--no-write]');
  process.exit(2);
}
// Each scenario's index for runSeed (faults/harness.ts) is in its file: agent-kill 1, console-kill 2,
// partition 3, target-faults 4, full-data-disk 5, source-faults 6, stalled-target 7, crash-point 8,
// torn-state 9, vanishing-plex 0.
const scenarios = ['agent-kill', 'console-kill', 'partition', 'target-faults', 'full-data-disk', 'source-faults', 'stalled-target', 'crash-point', 'torn-state', 'vanishing-plex'];
const chosen = values.only ? values.only.split(',') : scenarios;
const unknown = chosen.filter((name) => !scenarios.includes(name));
if (unknown.length) {
  console.error(`no scenario ${unknown.join(', ')}; the scenarios are ${scenarios.join(', ')}`);
  process.exit(2);
}

const resultsDir = path.resolve('test-results', 'faults');
for (const name of chosen) rmSync(path.join(resultsDir, `${name}.json`), { force: true });
const started = Date.now();
console.log(`fault soak: ${chosen.join(', ')}; ${runs} run(s) each; seed ${seed}; ${process.env.TERN_TEST_DATABASE_URL ? 'PostgreSQL' : 'PGlite'}`);
const vitest = spawnSync(
  path.join('node_modules', '.bin', 'vitest'),
  [
    'run',
    '-c',
    'vitest.faults.config.ts',
    ...(values['vitest-json'] ? ['--reporter=default', '--reporter=json', `--outputFile.json=${values['vitest-json']}`] : []),
    ...chosen.map((name) => `faults/${name}.soak.test.ts`),
  ],
  { stdio: 'inherit', env: { ...process.env, TERN_FAULT_RUNS: String(runs), TERN_FAULT_SEED: String(seed), TERN_FAULT_RESULTS_DIR: resultsDir } },
);
const durationS = Math.round((Date.now() - started) / 1000);

const results = chosen.map((name) => {
  const file = path.join(resultsDir, `${name}.json`);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : { scenario: name, title: name, runs: [], skipped: 'no results: the scenario did not start (see the output above)' };
});

const MiB = 1024 * 1024;
/** The rule of three: no failure in n runs bounds the failure rate by about 3/n (95%); below 4 runs it bounds nothing. */
const ruleOfThree = (n) => (n > 3 ? `3/${n} = ${((3 / n) * 100).toFixed(0)}%` : `nothing below 4 runs (3/${n})`);
const sum = (rows, key) => rows.reduce((total, row) => total + (row[key] ?? 0), 0);
const header = ['Scenario', 'Runs', 'Faults injected (hit)', 'Completed', 'Failed cleanly (reason)', 'Unexpected', 'Stuck', 'Writes acked', 'Lost', 'Indeterminate', 'Write errors seen', 'Re-copied / dirty at crash', 'Copied / volume', 'Recovery p50 / max'];
const table = results.map((result) => {
  if (result.skipped && !result.runs.length) return [result.scenario, '—', `skipped: ${result.skipped}`, '', '', '', '', '', '', '', '', '', '', ''];
  const rows = result.runs;
  const failed = rows.filter((row) => row.outcome !== 'completed' && row.outcome !== 'stuck');
  const reasons = {};
  for (const row of failed) reasons[row.reason ?? 'no reason'] = (reasons[row.reason ?? 'no reason'] ?? 0) + 1;
  const recopied = rows.filter((row) => row.recopiedBytes !== null && row.dirtyAtCrashBytes !== null);
  const recovery = rows.map((row) => row.recoveryMs).filter((ms) => ms !== null).sort((a, b) => a - b);
  return [
    result.title,
    String(rows.length),
    `${rows.length} (${rows.filter((row) => row.faultHit).length})`,
    String(rows.filter((row) => row.outcome === 'completed').length),
    failed.length ? `${failed.length} (${Object.entries(reasons).map(([reason, n]) => `${reason} ×${n}`).join('; ')})` : '0',
    String(rows.filter((row) => !row.expected).length),
    String(rows.filter((row) => row.outcome === 'stuck').length),
    String(sum(rows, 'writesAcknowledged')),
    String(sum(rows, 'writesLost')),
    String(sum(rows, 'writesIndeterminate')),
    String(sum(rows, 'writeErrors')),
    recopied.length ? `${(sum(recopied, 'recopiedBytes') / MiB).toFixed(1)} / ${(sum(recopied, 'dirtyAtCrashBytes') / MiB).toFixed(1)} MiB` : rows.some((row) => row.recopiedBytes === 0) ? '0 (job not restarted)' : 'n/a',
    `${(sum(rows, 'bytesCopied') / MiB).toFixed(0)} / ${(sum(rows, 'volumeBytes') / MiB).toFixed(0)} MiB`,
    recovery.length ? `${(recovery[Math.floor((recovery.length - 1) / 2)] / 1000).toFixed(1)} / ${(recovery.at(-1) / 1000).toFixed(1)} s` : 'n/a',
  ];
});

const markdownRow = (cells) => `| ${cells.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`;
const markdown = [markdownRow(header), markdownRow(header.map(() => '---')), ...table.map(markdownRow)].join('\n');
const allRuns = results.flatMap((result) => result.runs);
const lost = sum(allRuns, 'writesLost');
const bad = allRuns.filter((row) => !row.expected || row.outcome === 'stuck' || row.writesLost > 0);
const n = allRuns.length;

const git = (args) => {
  try {
    return execFileSync('git', args, { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
};
const dirty = git(['status', '--porcelain', '--untracked-files=no', '--', 'server', 'test', 'faults', 'db', 'vitest.faults.config.ts']) ? ' (with uncommitted changes in the tree)' : '';
const environment = [
  `- Date: ${new Date(started).toISOString()}; duration ${Math.floor(durationS / 60)} min ${durationS % 60} s`,
  `- Commit: ${git(['rev-parse', '--short', 'HEAD'])}${dirty}`,
  `- Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`,
  `- Database: ${process.env.TERN_TEST_DATABASE_URL ? 'PostgreSQL (TERN_TEST_DATABASE_URL)' : 'PGlite'}`,
  `- Command: \`npm run test:faults -- --runs ${runs} --seed ${seed}${values.only ? ` --only ${values.only}` : ''}\` (the seed reproduces every strategy, moment, duration and fault drawn)`,
  `- Runs: ${n}; runs that lost an acknowledged write: ${allRuns.filter((row) => row.writesLost > 0).length} (${lost} writes); runs not ending as their fault requires: ${bad.length}; stuck: ${allRuns.filter((row) => row.outcome === 'stuck').length}. For a property that held in all ${n} runs, the 95% upper bound on its per-run failure rate is about ${ruleOfThree(n)} (per scenario, ${ruleOfThree(runs)}).`,
].join('\n');
const perRun = results
  .flatMap((result) => result.runs.map((row) => `| ${result.scenario} | ${row.run} | ${row.seed} | ${row.strategy} | ${row.fault.replaceAll('|', '\\|')} | ${row.outcome}${row.reason ? ` (${row.reason})` : ''} | ${row.writesLost} | ${row.note ? row.note.replaceAll('|', '\\|') : ''} |`))
  .join('\n');
const generated = `${environment}\n\n${markdown}\n\n<details><summary>Every run</summary>\n\n| Scenario | Run | Seed | Strategy | Fault | Outcome | Lost | Note |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n${perRun}\n\n</details>`;

console.log(`\n${environment}\n\n${markdown}\n`);
for (const row of bad) console.log(`NOT AS REQUIRED: ${row.fault} → ${row.outcome} ${row.reason ?? ''}; lost ${row.writesLost}${row.note ? `; ${row.note}` : ''}`);

const doc = path.resolve('docs', 'reliability.md');
const START = '<!-- fault-soak:start (written by scripts/test-faults.mjs) -->';
const END = '<!-- fault-soak:end -->';
if (!values['no-write'] && existsSync(doc)) {
  const text = readFileSync(doc, 'utf8');
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  if (from >= 0 && to > from) {
    writeFileSync(doc, `${text.slice(0, from + START.length)}\n${generated}\n${text.slice(to)}`);
    console.log(`wrote the table to ${path.relative(process.cwd(), doc)}`);
  } else console.log(`${doc} has no ${START} … ${END} markers; not written`);
}
process.exit(vitest.status === 0 && lost === 0 && bad.length === 0 ? 0 : 1);
