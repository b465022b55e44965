/**
 * Runs snapshot-worker.ts once per export and answers its result: the driver's way to fold the
 * log into a snapshot without stalling the event loop.
 */

export interface ExportedState {
  readonly index: number;
  readonly data: Uint8Array;
}

export function exportStateInWorker(databasePath: string): Promise<ExportedState> {
  const worker = new Worker(new URL("./snapshot-worker.ts", import.meta.url).href);
  return new Promise<ExportedState>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<ExportedState | { error: string }>) => {
      const answer = event.data;
      if ("error" in answer) reject(new Error(`snapshot export failed: ${answer.error}`));
      else resolve({ index: answer.index, data: new Uint8Array(answer.data) });
    };
    worker.onerror = (event) => reject(new Error(`snapshot worker failed: ${event.message}`));
    worker.postMessage({ path: databasePath });
  }).finally(() => worker.terminate());
}
