/**
 * Runs once when the console starts (`next start` / `next dev`), not at build: opens the
 * database and applies migrations, creates the first admin, starts the liveness monitor and,
 * unless TERN_DEMO=0, the demo fleet.
 */
export async function register() {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  const { boot } = await import('./server/boot');
  await boot();
}
