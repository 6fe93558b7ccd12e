/**
 * What browsers do to a console under load, over its real HTTP tRPC endpoint with a viewer API
 * token: paged list queries timed one after another, and SSE subscriptions (migrations.onSample,
 * events.onEvent) read as a stream, each sample's lag taken from its agent timestamp `at` to its
 * arrival here. Plain fetch and a small SSE reader rather than EventSource (not in Node 20).
 */
import superjson from 'superjson';

export interface ListCall {
  procedure: string;
  input: unknown;
}

const inputQuery = (input: unknown) => (input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(superjson.serialize(input)))}`);

/** One GET query; resolves to its wall time in ms, or throws with the console's answer. */
export async function timeQuery(consoleUrl: string, token: string, call: ListCall): Promise<{ ms: number; bytes: number }> {
  const started = performance.now();
  const response = await fetch(`${consoleUrl}/api/trpc/${call.procedure}${inputQuery(call.input)}`, { headers: { authorization: `Bearer ${token}` } });
  const body = await response.arrayBuffer();
  const ms = performance.now() - started;
  if (!response.ok) throw new Error(`${call.procedure}: HTTP ${response.status} ${Buffer.from(body).toString('utf8').slice(0, 300)}`);
  return { ms, bytes: body.byteLength };
}

export interface Subscription {
  /** Messages received (not counting the connection's own control events). */
  readonly received: number;
  /** Times the stream failed or ended and was opened again. */
  readonly reconnects: number;
  close(): void;
}

/**
 * Opens an SSE subscription and keeps it open as a browser's EventSource does: when the stream
 * fails or ends it reconnects after a second with the last tracked id, so nothing is skipped.
 * `onData` gets each message's deserialized payload and its arrival time.
 */
export function subscribe(consoleUrl: string, token: string, procedure: string, input: Record<string, unknown>, onData: (data: unknown, arrivedAtMs: number) => void): Subscription {
  const abort = new AbortController();
  const state = { received: 0, reconnects: 0 };
  let lastEventId: string | null = null;
  const readOnce = async () => {
    const response = await fetch(`${consoleUrl}/api/trpc/${procedure}${inputQuery({ ...input, lastEventId })}`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: abort.signal });
    if (!response.ok || !response.body) throw new Error(`${procedure}: HTTP ${response.status} ${await response.text()}`);
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      const arrivedAtMs = Date.now();
      buffered += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const message = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const lines = message.split('\n');
        if (lines.some((line) => line.startsWith('event:'))) continue; // connected, ping, return
        const data = lines.filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trimStart()).join('\n');
        if (!data) continue;
        lastEventId = lines.find((line) => line.startsWith('id:'))?.slice(3).trim() ?? lastEventId;
        state.received++;
        onData(superjson.deserialize(JSON.parse(data) as Parameters<typeof superjson.deserialize>[0]), arrivedAtMs);
      }
    }
  };
  void (async () => {
    while (!abort.signal.aborted) {
      await readOnce().catch(() => undefined);
      if (abort.signal.aborted) break;
      state.reconnects++;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  })();
  return {
    get received() {
      return state.received;
    },
    get reconnects() {
      return state.reconnects;
    },
    close: () => abort.abort(),
  };
}
