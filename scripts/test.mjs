#!/usr/bin/env node
// `npm test`: Vitest on the embedded database (PGlite), Vitest again on PostgreSQL when
// TERN_TEST_DATABASE_URL is set, the fault suite, then the production build and Playwright. Ends
// with one line `N passed, N failed` over every test that ran, so a run that ran nothing is visible.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

const results = path.resolve('test-results');
mkdirSync(results, { recursive: true });
const bin = (name) => path.join('node_modules', '.bin', name);
const totals = { passed: 0, failed: 0, skipped: 0 };
let exitCode = 0;

/** Steps that exited non-zero, with why, repeated at the end so a failure is never only scrolled past. */
const problems = [];

function run(label, command, args, env = {}) {
  console.log(`\n=== ${label} ===`);
  const child = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  if (child.status !== 0) {
    exitCode = 1;
    problems.push(`${label} exited with ${child.status === null ? `signal ${child.signal}` : `status ${child.status}`}`);
  }
  return child.status === 0;
}

/**
 * A runner that exited non-zero while none of its tests failed (Vitest does on an unhandled error
 * or rejection outside any test) fails the run all the same, and counts as one failure below.
 */
function countStepFailure(failedBefore) {
  if (totals.failed > failedBefore) return;
  totals.failed += 1;
  problems[problems.length - 1] += ' although no test failed (an error outside the tests: look above for "Unhandled")';
}

function countVitest(file) {
  if (!existsSync(file)) return void (totals.failed += 1);
  const report = JSON.parse(readFileSync(file, 'utf8'));
  totals.passed += report.numPassedTests;
  totals.failed += report.numFailedTests;
  totals.skipped += report.numPendingTests + report.numTodoTests;
}

function vitest(label, outputFile, env, filters = []) {
  rmSync(outputFile, { force: true });
  const failedBefore = totals.failed;
  const ok = run(label, bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${outputFile}`, ...filters], env);
  countVitest(outputFile);
  if (!ok) countStepFailure(failedBefore);
}

/**
 * The test files that open a database (they call freshDatabase) or need the PostgreSQL server
 * itself (they read TERN_TEST_DATABASE_URL: replicas, LISTEN/NOTIFY, migration locking); the
 * rest (data plane, NBD, agents without a console) do not depend on the database, so they run once.
 */
function databaseSuites() {
  const found = [];
  const visit = (folder) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const file = path.join(folder, entry.name);
      if (entry.isDirectory()) visit(file);
      else if (entry.name.endsWith('.test.ts') && /freshDatabase\(|process\.env\.TERN_TEST_DATABASE_URL/.test(readFileSync(file, 'utf8'))) found.push(file);
    }
  };
  for (const folder of ['server', 'db', 'test']) if (existsSync(folder)) visit(folder);
  return found;
}

vitest('Vitest on PGlite', path.join(results, 'vitest-pglite.json'), { TERN_TEST_DATABASE_URL: '' });
if (process.env.TERN_TEST_DATABASE_URL) {
  vitest('Vitest on PostgreSQL (database suites)', path.join(results, 'vitest-postgres.json'), {}, databaseSuites());
}

// The fault suite (docs/reliability.md): every scenario three times with the workload writing,
// on PostgreSQL when it is there (console-kill then kills one of three replicas), else PGlite.
// It fits well inside CI's budget (about 3 minutes); it does not rewrite docs/reliability.md.
if (process.env.TERN_SKIP_FAULTS === '1') {
  console.log('\nTERN_SKIP_FAULTS=1: skipping the fault suite');
} else {
  const report = path.join(results, 'vitest-faults.json');
  rmSync(report, { force: true });
  const failedBefore = totals.failed;
  const ok = run('Fault suite', process.execPath, [path.join('scripts', 'test-faults.mjs'), '--runs', '3', '--no-write', '--vitest-json', report]);
  countVitest(report);
  if (!ok) countStepFailure(failedBefore);
}

if (process.env.TERN_SKIP_E2E === '1') {
  console.log('\nTERN_SKIP_E2E=1: skipping the build and Playwright');
} else if (run('next build', process.execPath, [path.join('node_modules', 'next', 'dist', 'bin', 'next'), 'build'], { NEXT_TELEMETRY_DISABLED: '1' })) {
  const report = path.join(results, 'playwright.json');
  rmSync(report, { force: true });
  const failedBefore = totals.failed;
  const ok = run('Playwright', bin('playwright'), ['test', '--reporter=list,json'], { PLAYWRIGHT_JSON_OUTPUT_NAME: report });
  if (existsSync(report)) {
    const { stats } = JSON.parse(readFileSync(report, 'utf8'));
    totals.passed += stats.expected + stats.flaky;
    totals.failed += stats.unexpected;
    totals.skipped += stats.skipped;
  } else {
    totals.failed += 1;
  }
  if (!ok) countStepFailure(failedBefore);
} else {
  totals.failed += 1;
}

if (totals.failed > 0) exitCode = 1;
for (const problem of problems) console.log(`\nFAILED STEP: ${problem}`);
console.log(`\n${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);
process.exit(exitCode);
