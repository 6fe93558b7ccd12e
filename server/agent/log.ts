/**
 * The agent's log: one JSON object per line on stdout, `{"t","level","msg",…fields}`. Callers
 * never pass the credential, the enrolment token or the console key; fields are data, not secrets.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export function createLogger(write: (line: string) => void = (line) => process.stdout.write(line)): Logger {
  const emit = (level: LogLevel) => (msg: string, fields?: LogFields) =>
    write(`${JSON.stringify({ t: new Date().toISOString(), level, msg, ...fields })}\n`);
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}
