/**
 * An interrupted, resumed snapshot-image transfer on the simulator: a sender holding an image,
 * a receiver driving ImagePull (core/raft/snapshot-image.ts) against a simulated disk, and one
 * seed setting every fault: links that drop mid-part, parts that arrive late or twice, parts
 * torn on the way (their hash no longer matches), a hostile sender that lies consistently (a
 * part and its hash agree, the image does not), and receiver crashes that lose what was not
 * fsync'd or leave a torn tail on disk. Then faults stop and the transfer must finish.
 *
 * Properties: the receiver never installs an image whose bytes differ from the sender's (the
 * whole-image check catches what the part checks cannot); a restart resumes from the whole
 * parts it had made durable, never from 0 unless its disk lost them; it never asks for a second
 * part while one is out (memory bounded by a part); and once faults stop, the image is installed within a
 * bounded number of steps.
 */

import { Prng } from "../../core/prng.ts";
import { ImagePull, type SnapshotImage } from "../../core/raft/snapshot-image.ts";

const IMAGE_BYTES_MAX = 32 * 1024;
const PART_BYTES_MAX = 4 * 1024;
const FAULTY_STEPS = 400;

/** FNV-1a, 32 bits: a stand-in for SHA-256 here; any one changed byte changes it. */
function fnv1a(bytes: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, "0").repeat(8);
}

interface Answer {
  readonly offset: number;
  readonly bytes: Uint8Array;
  readonly hash: string;
}

/** The receiver's disk: `file` is what a crash keeps once `synced` bytes were fsync'd. */
interface SimDisk {
  file: Uint8Array;
  synced: number;
}

interface Faults {
  readonly dropLink: number;
  readonly tear: number;
  readonly lie: number;
  readonly duplicate: number;
  readonly crash: number;
  readonly tornTail: number;
}

function faultsOf(prng: Prng): Faults {
  const chance = (max: number) => prng.nextFloat() * max;
  return {
    dropLink: chance(0.3),
    tear: chance(0.2),
    lie: chance(0.05),
    duplicate: chance(0.2),
    crash: chance(0.05),
    tornTail: chance(0.5),
  };
}

interface Run {
  readonly prng: Prng;
  readonly source: Uint8Array;
  readonly image: SnapshotImage;
  readonly partBytes: number;
  readonly disk: SimDisk;
  pull: ImagePull;
  /** Answers on the way back: at most one is current, the rest are late or duplicated. */
  wire: Answer[];
  installed: Uint8Array | null;
  readonly problems: string[];
}

/** The sender: bytes [offset, offset + bytes) of its image, hashed; or a consistent lie. */
function answer(run: Run, offset: number, bytes: number, faults: Faults): Answer {
  const part = run.source.slice(offset, offset + bytes);
  if (run.prng.nextFloat() < faults.lie && part.length > 0) {
    part[0] = ((part[0] ?? 0) + 1) & 0xff;
    return { offset, bytes: part, hash: fnv1a(part) };
  }
  const hash = fnv1a(part);
  const last = part.length - 1;
  if (run.prng.nextFloat() < faults.tear && last >= 0) part[last] = (part[last] ?? 0) ^ 0x5a;
  return { offset, bytes: part, hash };
}

function restart(run: Run, faults: Faults): void {
  const kept = run.disk.file.slice(0, run.disk.synced);
  // A crash mid-write may leave a tail of garbage past what was fsync'd, even a whole part.
  const tail = run.prng.nextFloat() < faults.tornTail ? run.prng.intBelow(run.partBytes + 1) : 0;
  const file = new Uint8Array(kept.length + tail);
  file.set(kept);
  for (let at = kept.length; at < file.length; at += 1) file[at] = run.prng.intBelow(256);
  run.disk.file = file;
  run.disk.synced = file.length;
  run.wire = [];
  run.pull = new ImagePull(run.image, file.length, run.partBytes);
  const wholeParts = kept.length - (kept.length % run.partBytes);
  const expected = tail === 0 ? Math.min(kept.length, wholeParts) : null;
  if (expected !== null && run.pull.resumeOffset < expected && kept.length < run.image.bytes) {
    run.problems.push(`resumed at ${run.pull.resumeOffset}, below durable ${expected}`);
  }
}

function write(run: Run, offset: number, bytes: Uint8Array): void {
  const end = offset + bytes.length;
  const file = new Uint8Array(Math.max(run.disk.file.length, end));
  file.set(run.disk.file.subarray(0, offset));
  file.set(bytes, offset);
  run.disk.file = file;
  run.disk.synced = end;
  run.pull.durable(offset);
}

/** The whole image is on disk: install it only if it hashes to the descriptor's hash. */
function finish(run: Run): void {
  const file = run.disk.file.subarray(0, run.image.bytes);
  if (fnv1a(file) !== run.image.sha256) {
    run.disk.file = new Uint8Array(0);
    run.disk.synced = 0;
    run.pull = new ImagePull(run.image, 0, run.partBytes);
    return;
  }
  run.installed = file.slice();
}

/** One step: maybe a fault, then the receiver asks, or an answer arrives. */
function step(run: Run, faults: Faults | null): void {
  if (faults !== null && run.prng.nextFloat() < faults.crash) return restart(run, faults);
  if (faults !== null && run.prng.nextFloat() < faults.dropLink) {
    run.wire = [];
    run.pull.linkLost();
  }
  const request = run.pull.nextRequest();
  if (request !== null) {
    const quiet = faults ?? { dropLink: 0, tear: 0, lie: 0, duplicate: 0, crash: 0, tornTail: 0 };
    if (run.pull.nextRequest() !== null) run.problems.push("a second part asked while one is out");
    const sent = answer(run, request.offset, request.bytes, quiet);
    run.wire.push(sent);
    if (faults !== null && run.prng.nextFloat() < faults.duplicate) run.wire.push(sent);
  }
  const index = faults === null || run.wire.length === 0 ? 0 : run.prng.intBelow(run.wire.length);
  const [arrived] = run.wire.splice(index, 1);
  if (arrived !== undefined) {
    const hashMatches = fnv1a(arrived.bytes) === arrived.hash;
    const verdict = run.pull.received(arrived.offset, arrived.bytes.length, hashMatches);
    if (verdict.kind === "write") write(run, verdict.offset, arrived.bytes);
  }
  if (run.pull.complete && run.installed === null) finish(run);
}

/** One seeded transfer; returns its property violations (none is a pass). */
export function interruptedTransfer(seed: number): { problems: string[]; faultySteps: number } {
  const prng = new Prng(seed);
  const imageBytes = prng.intBelow(IMAGE_BYTES_MAX + 1);
  const source = new Uint8Array(imageBytes);
  for (let at = 0; at < imageBytes; at += 1) source[at] = prng.intBelow(256);
  const partBytes = 1 + prng.intBelow(PART_BYTES_MAX);
  const image = { bytes: imageBytes, sha256: fnv1a(source) };
  const run: Run = {
    prng,
    source,
    image,
    partBytes,
    disk: { file: new Uint8Array(0), synced: 0 },
    pull: new ImagePull(image, 0, partBytes),
    wire: [],
    installed: null,
    problems: [],
  };
  const faults = faultsOf(prng);
  let steps = 0;
  for (; steps < FAULTY_STEPS && run.installed === null; steps += 1) step(run, faults);
  run.wire = [];
  run.pull.linkLost();
  // Healed, one part moves per step: every part once, then once more if the whole-image check
  // finds a torn tail or a lie and the transfer starts over.
  const healedMax = 2 * (Math.ceil(imageBytes / partBytes) + 2);
  for (let healed = 0; healed < healedMax && run.installed === null; healed += 1) step(run, null);
  const installed = run.installed as Uint8Array | null;
  if (installed === null) run.problems.push(`not installed ${healedMax} steps after faults`);
  else if (fnv1a(installed) !== fnv1a(source) || installed.length !== source.length) {
    run.problems.push("installed an image that differs from the sender's");
  } else if (!installed.every((byte, at) => byte === source[at])) {
    run.problems.push("installed an image that differs from the sender's");
  }
  return { problems: run.problems, faultySteps: steps };
}
