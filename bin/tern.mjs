#!/usr/bin/env node
// The `tern` command's entry point: loads cli/tern.ts through tsx and exits with its code.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../cli/tern.ts');
process.exitCode = await run(process.argv.slice(2));
