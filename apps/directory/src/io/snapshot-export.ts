/**
 * Runs snapshot-worker.ts once per job and answers its result: the driver's way to make and to
 * check snapshot images without stalling the event loop.
 */

import { raft } from "@ftfs/protocol/core";
import type { SnapshotImages } from "./snapshot-images.ts";

export type WorkerRequest =
  | {
      readonly op: "export";
      readonly databasePath: string;
      readonly temporaryPath: string;
      readonly imagesDir: string;
      /** The image's final path, given its SHA-256 (the same rule as SnapshotImages). */
      readonly imagePathPattern: string;
    }
  | {
      readonly op: "prepare";
      readonly partPath: string;
      readonly readyPath: string;
      readonly imagePath: string;
      readonly temporaryPath: string;
      readonly imagesDir: string;
      readonly image: raft.SnapshotImage;
      readonly index: number;
    };

export type WorkerAnswer =
  | { readonly op: "export"; readonly index: number; readonly image: raft.SnapshotImage }
  | { readonly op: "prepare" }
  | { readonly error: string; readonly mismatch?: boolean };

/** The sha256 placeholder in `imagePathPattern`. */
export const SHA256_PLACEHOLDER = "{sha256}";

/** A snapshot's data as of `index`: here, an image descriptor (raft.encodeSnapshotImage). */
export interface ExportedState {
  readonly index: number;
  readonly data: Uint8Array;
  /** Bytes of the state the snapshot stands for (the image's size). */
  readonly bytes: number;
}

/** The image was not the one its snapshot names: its bytes were dropped, to fetch again. */
export class SnapshotImageMismatchError extends Error {
  override readonly name = "SnapshotImageMismatchError";
  readonly code = "SNAPSHOT_IMAGE_MISMATCH";
}

function runWorker(request: WorkerRequest): Promise<WorkerAnswer> {
  const worker = new Worker(new URL("./snapshot-worker.ts", import.meta.url).href);
  return new Promise<WorkerAnswer>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<WorkerAnswer>) => resolve(event.data);
    worker.onerror = (event) => reject(new Error(`snapshot worker failed: ${event.message}`));
    worker.postMessage(request);
  }).finally(() => worker.terminate());
}

/** Copies the database into a new image (VACUUM INTO, on a worker); answers its descriptor. */
export async function exportImageInWorker(
  databasePath: string,
  images: SnapshotImages,
): Promise<ExportedState> {
  const answer = await runWorker({
    op: "export",
    databasePath,
    temporaryPath: images.temporaryPath("export"),
    imagesDir: images.dir,
    imagePathPattern: images.imagePath(SHA256_PLACEHOLDER),
  });
  if ("error" in answer) throw new Error(`snapshot export failed: ${answer.error}`);
  if (answer.op !== "export") throw new Error("snapshot worker answered another job");
  const data = raft.encodeSnapshotImage(answer.image);
  return { index: answer.index, data, bytes: answer.image.bytes };
}

/** Checks a fully received image and readies it to swap in (see snapshot-worker.ts). */
export async function prepareImageInWorker(
  images: SnapshotImages,
  image: raft.SnapshotImage,
  index: number,
): Promise<void> {
  const answer = await runWorker({
    op: "prepare",
    partPath: images.partPath(image.sha256),
    readyPath: images.readyPath(image.sha256),
    imagePath: images.imagePath(image.sha256),
    temporaryPath: images.temporaryPath("received"),
    imagesDir: images.dir,
    image,
    index,
  });
  if ("error" in answer) {
    if (answer.mismatch === true) throw new SnapshotImageMismatchError(answer.error);
    throw new Error(`received snapshot refused: ${answer.error}`);
  }
}
