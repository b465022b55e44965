/**
 * Exports the directory's applied state off the main thread: a snapshot of a large state takes
 * seconds (a million files: about 7 s), and the main thread must keep heartbeating meanwhile.
 * The worker opens its own read-only connection; WAL lets it read one consistent version of
 * the database while the node goes on writing.
 *
 * Message in: { path }. Message out: { index, data } (data transferred), or { error }.
 */

import { Database } from "bun:sqlite";
import { exportStateOf } from "./sqlite-store.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent<{ path: string }>) => {
  let db: Database | null = null;
  try {
    db = new Database(event.data.path, { readonly: true });
    db.run("BEGIN");
    const exported = exportStateOf(db);
    db.run("COMMIT");
    const buffer = exported.data.buffer;
    if (!(buffer instanceof ArrayBuffer)) throw new Error("snapshot bytes are not transferable");
    self.postMessage(exported, [buffer]);
  } catch (error) {
    self.postMessage({ error: error instanceof Error ? error.message : String(error) });
  } finally {
    db?.close();
  }
};
