/**
 * The reference and garbage-collection protocol, simulated: the directory's real state machine
 * (MemoryMetadataStore), the storage nodes' real owner references (RefsStore in memory), the
 * real notice application (notices.ts), the directory's real garbage rules and the storage
 * side's real deletion check, driven by one seeded schedule. Chunk files are a set per node.
 *
 * A schedule interleaves, at random: placements, chunk puts (reference first, as a put does),
 * commits under a keep policy of 1-3 versions (pruning older ones), deletes and re-uploads of
 * the same names, S3 versioning turned on for some names (deletes leave markers; versions
 * and markers deleted by number), S3 multipart uploads (parts uploaded, uploaded again, completed by joining
 * some of them, aborted, or expired), notice deliveries (always a prefix from
 * the oldest unacknowledged, as the outbox sends), acknowledgements, directory failovers (a
 * new term), a deposed primary replaying an old batch, garbage-collection questions and their
 * answers applied later (so puts and commits fall in between), clock jumps both ways on the
 * directory, clients that pause past their deadline, and storage nodes whose disk is wiped
 * that rejoin as learners and catch up page by page while writes go on.
 *
 * Safety, checked after every step: every chunk of every version the directory keeps is on
 * every in-sync node. Liveness, checked after a heal (every notice delivered, catch-ups done,
 * time past every deadline, a GC pass and an audit pass on every node): every chunk left on
 * any node is one a kept version names. Each returns its problems; an empty list is a pass.
 */

import {
  MULTIPART_PART_BYTES_MIN,
  partStoredName,
  Prng,
  uploadIdWithDeadline,
  type ChunkRef,
} from "@ftfs/protocol/core";
import {
  applyCommand,
  judgeGarbage,
  MemoryMetadataStore,
  uploadKeeps,
  uploadsToSweep,
  type Command,
  type GarbageFacts,
  type GarbageVerdict,
  type OutcomeOf,
} from "@ftfs/directory/core";
import { groupConfig, sha } from "@ftfs/directory/testing";
import { judgeChunk, stillCollectable } from "@ftfs/storage/core";
import { applyNotice, refKey, RefsStore, type ChunkRefFacts } from "@ftfs/storage/io";
import type { Result } from "@ftfs/protocol/core";

const UID = "alice";
const GROUP = "s1";
const NODES = ["s1a", "s1b", "s1c"] as const;
/** Files, and objects of bucket "ver", whose S3 versioning the schedule turns on at some point. */
const NAMES = ["a", "b", "c", "/ver/a", "/ver/b"] as const;
/** Distinct chunk contents: few, so uploads share chunks (deduplication). */
const CHUNK_POOL_SIZE = 10;
const CHUNK_BYTES = 10;
/** Parts' chunks: their own pool, big enough that a part passes the parts' size floor. */
const PART_CHUNK_POOL_SIZE = 6;
const PART_CHUNK_BYTES = MULTIPART_PART_BYTES_MIN;
const PART_NUMBERS_MAX = 3;
/** Short enough that some uploads outlive it within a schedule (the expiry pass runs). */
const MULTIPART_DEADLINE_MS = 30_000;
const UPLOAD_DEADLINE_MS = 10_000;
const STEPS = 220;
const OPEN_UPLOADS_MAX = 4;
const NOTICES_PER_DELIVERY_MAX = 6;
const CATCH_UP_PAGE_REFS = 3;
const UPLOADS_PER_CANDIDATE_MAX = 16;
const T0_MS = 1_700_000_000_000;

interface StorageNode {
  readonly id: string;
  refs: RefsStore;
  readonly chunks: Set<string>;
  /** Catch-up progress while a learner; null when in sync. */
  learner: { afterSeq: number; kept: Set<string>; localSeqAtStart: number } | null;
  /** A GC question asked and not yet acted on. */
  asked: { facts: Map<string, ChunkRefFacts>; verdict: GarbageVerdict } | null;
}

interface ClientUpload {
  readonly name: string;
  readonly uploadId: string;
  readonly chunks: readonly string[];
  /** A part of the open multipart upload: its chunks are part-sized. */
  readonly part: boolean;
  put: number;
}

interface DeliveredBatch {
  readonly term: number;
  readonly notices: ReturnType<MemoryMetadataStore["pendingNotices"]>;
}

class World {
  readonly problems: string[] = [];
  /** What happened, one line per event, for a failing seed's report. */
  readonly trace: string[] = [];
  readonly store = new MemoryMetadataStore();
  readonly nodes: StorageNode[];
  readonly uploads: ClientUpload[] = [];
  readonly batches: DeliveredBatch[] = [];
  nowMs = T0_MS;
  /** The latest deadline any upload was given (the directory's clock may since have gone back). */
  latestDeadlineMs = T0_MS;
  term = 1;
  /** The S3 multipart upload open now, if any. */
  multipart: { readonly uploadId: string; readonly name: string } | null = null;
  private index = 0;
  private uploadCount = 0;

  constructor(readonly prng: Prng) {
    this.nodes = NODES.map((id) => ({
      id,
      refs: RefsStore.open(":memory:"),
      chunks: new Set<string>(),
      learner: null,
      asked: null,
    }));
    this.apply({ type: "createUser", uid: UID, atMs: T0_MS });
    this.apply({ type: "setGroupConfig", config: groupConfig(GROUP, [...NODES]), atMs: T0_MS });
    this.apply({ type: "bucketCreate", uid: UID, bucket: "ver", atMs: T0_MS });
  }

  close(): void {
    for (const node of this.nodes) node.refs.close();
  }

  apply<C extends Command>(command: C): Result<OutcomeOf<C>> {
    this.index += 1;
    return applyCommand(this.store, this.index, command);
  }

  /** Nodes that take writes: in-sync ones and learners (the primary forwards to both). */
  writers(): StorageNode[] {
    return this.nodes;
  }

  inSync(): StorageNode[] {
    return this.nodes.filter((node) => node.learner === null);
  }

  place(): void {
    if (this.uploads.length >= OPEN_UPLOADS_MAX) return;
    this.uploadCount += 1;
    const multipart = this.multipart;
    const part = multipart !== null && this.prng.chance(0.5);
    const count = 1 + this.prng.intBelow(3);
    const chunks = Array.from({ length: count }, () =>
      part
        ? sha(100 + this.prng.intBelow(PART_CHUNK_POOL_SIZE))
        : sha(1 + this.prng.intBelow(CHUNK_POOL_SIZE)),
    );
    const name = part
      ? partStoredName(multipart.uploadId, 1 + this.prng.intBelow(PART_NUMBERS_MAX))
      : (NAMES[this.prng.intBelow(NAMES.length)] ?? "a");
    const deadlineMs = this.nowMs + UPLOAD_DEADLINE_MS;
    this.latestDeadlineMs = Math.max(this.latestDeadlineMs, deadlineMs);
    const uploadId = uploadIdWithDeadline(deadlineMs, `u${this.uploadCount}`);
    this.uploads.push({ name, uploadId, chunks, part, put: 0 });
    this.note(`place ${name} ${uploadId} [${chunks.map(short).join(",")}]`);
  }

  /** One chunk of an open upload reaches every node: the reference first, then the bytes. */
  put(): void {
    const upload = this.pick(this.uploads.filter((item) => item.put < item.chunks.length));
    if (upload === undefined) return;
    const chunkId = upload.chunks[upload.put] ?? "";
    upload.put += 1;
    const owner = { uid: UID, name: upload.name, uploadId: upload.uploadId };
    this.note(`put ${short(chunkId)} of ${upload.uploadId}`);
    for (const node of this.writers()) {
      node.refs.addPending(chunkId, owner, upload.part ? PART_CHUNK_BYTES : CHUNK_BYTES, 0);
      node.chunks.add(chunkId);
    }
  }

  commit(): void {
    const upload = this.pick(this.uploads.filter((item) => item.put === item.chunks.length));
    if (upload === undefined) return;
    const bytes = upload.part ? PART_CHUNK_BYTES : CHUNK_BYTES;
    const chunks: ChunkRef[] = upload.chunks.map((id) => ({ id, bytes, group: GROUP }));
    const result = this.apply({
      type: "commitVersion",
      uid: UID,
      name: upload.name,
      uploadId: upload.uploadId,
      bytes: bytes * chunks.length,
      sha256: sha(900 + chunks.length),
      chunks,
      atMs: this.nowMs,
      // The keep policy may differ between commits (the flag changed between primaries).
      keepVersions: 1 + this.prng.intBelow(3),
      ...(upload.part ? { attrs: { md5: md5Of(upload.uploadId) } } : {}),
    });
    this.note(
      `commit ${upload.name} ${upload.uploadId}: ${result.ok ? `v${result.value.version}` : result.error.code}`,
    );
    // A part's upload may have been completed or aborted meanwhile.
    const gone = upload.part && !result.ok && result.error.code === "NO_SUCH_UPLOAD";
    if (!result.ok && result.error.code !== "UPLOAD_EXPIRED" && !gone) {
      this.problems.push(`commit of ${upload.uploadId} refused: ${result.error.message}`);
    }
    // Committed or expired, the client is done with this upload (it starts over if expired).
    this.uploads.splice(this.uploads.indexOf(upload), 1);
  }

  remove(): void {
    const name = NAMES[this.prng.intBelow(NAMES.length)] ?? "a";
    if (this.store.currentVersion(UID, name)?.kind !== "live") return;
    const requestId = `r${this.index}`;
    const result = this.apply({ type: "deleteFile", uid: UID, name, requestId, atMs: this.nowMs });
    this.note(`delete ${name}: ${result.ok ? "ok" : result.error.code}`);
    if (!result.ok) this.problems.push(`delete of ${name} refused: ${result.error.message}`);
  }

  /** Bucket "ver" gets S3 versioning (or has it suspended): deletes there leave markers. */
  versioning(): void {
    const versioning = this.prng.chance(0.5) ? "enabled" : "suspended";
    const result = this.apply({
      type: "bucketVersioning",
      uid: UID,
      bucket: "ver",
      versioning,
      atMs: this.nowMs,
    });
    this.note(`versioning ${versioning}: ${result.ok ? "ok" : result.error.code}`);
    if (!result.ok) this.problems.push(`versioning refused: ${result.error.message}`);
  }

  /** One version or delete marker of a name deleted by its number (it may be gone already). */
  removeVersion(): void {
    const name = NAMES[this.prng.intBelow(NAMES.length)] ?? "a";
    const record = this.pick(this.store.listVersions(UID, name, 0));
    if (record === undefined) return;
    const result = this.apply({
      type: "deleteVersion",
      uid: UID,
      name,
      version: record.version,
      atMs: this.nowMs,
    });
    this.note(
      `delete ${name} v${record.version}: ${result.ok ? JSON.stringify(result.value) : result.error.code}`,
    );
    if (!result.ok) this.problems.push(`delete of ${name} v${record.version} refused`);
  }

  multipartCreate(): void {
    if (this.multipart !== null) return;
    this.uploadCount += 1;
    const uploadId = uploadIdWithDeadline(
      this.nowMs + MULTIPART_DEADLINE_MS,
      `m${this.uploadCount}`,
    );
    const name = NAMES[this.prng.intBelow(NAMES.length)] ?? "a";
    const result = this.apply({
      type: "multipartCreate",
      uid: UID,
      uploadId,
      name,
      atMs: this.nowMs,
    });
    this.note(`multipart ${uploadId} of ${name}: ${result.ok ? "open" : result.error.code}`);
    if (!result.ok) this.problems.push(`multipart create refused: ${result.error.message}`);
    else this.multipart = { uploadId, name };
  }

  /** Join some of the parts there are (as the directory reads them) into the object. */
  multipartComplete(): void {
    const multipart = this.multipart;
    if (multipart === null) return;
    const parts = [];
    for (let number = 1; number <= PART_NUMBERS_MAX; number += 1) {
      const record = this.store.latestVersion(UID, partStoredName(multipart.uploadId, number));
      if (record?.kind !== "live" || !this.prng.chance(0.7)) continue;
      parts.push({ partNumber: number, version: record.version, md5: record.attrs?.md5 ?? "" });
    }
    if (parts.length === 0) return;
    const result = this.apply({
      type: "multipartComplete",
      uid: UID,
      uploadId: multipart.uploadId,
      parts,
      sha256: sha(950 + parts.length),
      md5: md5Of(multipart.uploadId),
      atMs: this.nowMs,
      keepVersions: 1 + this.prng.intBelow(3),
      // Parts forgotten, or tombstoned as commands logged before forgetParts do.
      forgetParts: this.prng.chance(0.5),
    });
    this.note(
      `complete ${multipart.uploadId} parts ${parts.map((part) => part.partNumber).join(",")}: ` +
        `${result.ok ? `v${result.value.version}` : result.error.code}`,
    );
    // Past its lifetime the upload cannot complete; the expiry pass will take it.
    if (!result.ok && result.error.code === "UPLOAD_EXPIRED") return;
    if (!result.ok) this.problems.push(`completion refused: ${result.error.message}`);
    this.multipart = null;
  }

  multipartAbort(): void {
    const multipart = this.multipart;
    if (multipart === null) return;
    const result = this.apply({
      type: "multipartAbort",
      uid: UID,
      uploadId: multipart.uploadId,
      atMs: this.nowMs,
      forgetParts: this.prng.chance(0.5),
    });
    this.note(`abort ${multipart.uploadId}: ${result.ok ? "ok" : result.error.code}`);
    if (!result.ok) this.problems.push(`abort refused: ${result.error.message}`);
    this.multipart = null;
  }

  /** The primary's expiry pass: the open upload goes if its lifetime has ended. */
  multipartExpire(): void {
    const multipart = this.multipart;
    if (multipart === null) return;
    const result = this.apply({
      type: "multipartExpire",
      uploads: [{ uid: UID, uploadId: multipart.uploadId }],
      atMs: this.nowMs,
    });
    this.note(`expire ${multipart.uploadId}: ${result.ok ? result.value.expired : "refused"}`);
    if (!result.ok) this.problems.push(`expiry refused: ${result.error.message}`);
    else if (result.value.expired === 1) this.multipart = null;
  }

  /** The outbox: a prefix from the oldest unacknowledged, in order, at the current term. */
  deliver(): void {
    const count = 1 + this.prng.intBelow(NOTICES_PER_DELIVERY_MAX);
    const notices = this.store.pendingNotices(GROUP, count);
    if (notices.length === 0) return;
    this.note(`deliver ${describeNotices(notices)} at term ${this.term}`);
    this.send({ term: this.term, notices });
    this.batches.push({ term: this.term, notices });
    const last = notices.at(-1);
    if (last !== undefined && this.prng.chance(0.6)) {
      const atMs = this.nowMs;
      this.apply({
        type: "ackNotices",
        group: GROUP,
        throughIndex: last.index,
        throughSeq: last.seq,
        atMs,
      });
    }
  }

  /** A deposed primary's drainer sends a batch it read in its own, older, term. */
  replayStale(): void {
    const old = this.batches.filter((batch) => batch.term < this.term);
    const batch = this.pick(old);
    if (batch === undefined) return;
    this.note(`replay ${describeNotices(batch.notices)} at old term ${batch.term}`);
    this.send(batch);
  }

  /**
   * Notices go to the group's primary, which applies each and forwards it to the others; one
   * it refuses (fenced by its term) is not forwarded, and the drainer stops there.
   */
  private send(batch: DeliveredBatch): void {
    const primary = this.inSync()[0];
    if (primary === undefined) return;
    for (const item of batch.notices) {
      const notice = { op: item.notice.op, body: { ...item.notice.body, term: batch.term } };
      const typed = notice as Parameters<typeof applyNotice>[1];
      if (!applyNotice(primary.refs, typed, { nowMs: 0 }).ok) return;
      for (const node of this.writers())
        if (node !== primary) applyNotice(node.refs, typed, { nowMs: 0 });
    }
  }

  failover(): void {
    this.term += 1;
    this.note(`failover to term ${this.term}`);
  }

  /**
   * Garbage collection asks the directory about every chunk no committed reference names (on
   * an audit, about every chunk). Liveness delays (grace, recent puts) are left out: they only
   * make the collector ask less often, and asking sooner is the harder case.
   */
  ask(node: StorageNode, audit: boolean): void {
    const facts = new Map<string, ChunkRefFacts>();
    for (const chunkId of node.chunks) {
      const mark = node.refs.chunkRefFacts(chunkId, UPLOADS_PER_CANDIDATE_MAX);
      if (
        judgeChunk({ ...mark, lastPutAtMs: null, fileModifiedAtMs: 0 }, this.nowMs, 1, audit).ask
      ) {
        facts.set(chunkId, mark);
      }
    }
    const candidates = [...facts].map(([chunkId, mark]) => ({
      chunkId,
      uploads: mark.pendingUploads,
      moreUploads: mark.moreUploads,
    }));
    const known = this.garbageFacts();
    const due = uploadsToSweep(known, candidates, this.nowMs);
    if (due.length > 0) this.apply({ type: "sweepUploads", uploads: due, atMs: this.nowMs });
    node.asked = { facts, verdict: judgeGarbage(known, GROUP, candidates) };
    const { collectable, releasedRefs } = node.asked.verdict;
    this.note(
      `${node.id} asks${audit ? " (audit)" : ""} [${[...facts.keys()].map(short).join(",")}] ` +
        `swept ${due.length}: collectable [${collectable.map(short).join(",")}] ` +
        `released [${releasedRefs.map((ref) => `${short(ref.chunkId)}@${ref.uploadId}`).join(",")}]`,
    );
  }

  /** The answer acted on, perhaps many steps later: closed uploads' references, then deletes. */
  act(node: StorageNode): void {
    const asked = node.asked;
    if (asked === null) return;
    node.asked = null;
    for (const { chunkId, uid, uploadId } of asked.verdict.releasedRefs) {
      node.refs.dropPendingRef(chunkId, uid, uploadId);
    }
    for (const chunkId of asked.verdict.collectable) {
      const mark = asked.facts.get(chunkId);
      const now = node.refs.chunkRefFacts(chunkId, UPLOADS_PER_CANDIDATE_MAX);
      if (mark === undefined || !stillCollectable(mark, now)) continue;
      node.refs.dropChunk(chunkId);
      node.chunks.delete(chunkId);
      this.note(`${node.id} deletes ${short(chunkId)}`);
    }
  }

  private garbageFacts(): GarbageFacts {
    const store = this.store;
    return {
      uploadCommitted: (uid, uploadId) => store.findUpload(uid, uploadId) !== undefined,
      uploadSwept: (uid, uploadId) => store.uploadSwept(uid, uploadId),
      uploadKeeps: (uid, uploadId, group, chunkId) =>
        uploadKeeps(store, uid, uploadId, group, chunkId),
      chunkKept: (group, chunkId) => store.chunkKept(group, chunkId),
      moveInFlight: () => false,
    };
  }

  /** A backup's disk dies: it comes back empty, as a learner. */
  wipe(): void {
    const candidates = this.inSync();
    if (candidates.length < 2) return;
    const node = this.pick(candidates.slice(1));
    if (node === undefined) return;
    node.refs.close();
    node.refs = RefsStore.open(":memory:");
    node.chunks.clear();
    node.asked = null;
    node.learner = { afterSeq: 0, kept: new Set(), localSeqAtStart: 0 };
    this.note(`${node.id} wiped`);
  }

  /** One page of a learner's catch-up from the primary: references first, then chunks. */
  catchUp(node: StorageNode): void {
    const learner = node.learner;
    const primary = this.inSync()[0];
    if (learner === null || primary === undefined) return;
    const page = primary.refs.pageAfter(learner.afterSeq, CATCH_UP_PAGE_REFS);
    node.refs.batch(() => {
      for (const ref of page) {
        const owner = { uid: ref.uid, name: ref.name, uploadId: ref.uploadId };
        node.refs.addPending(ref.chunkId, owner, ref.bytes, 0);
        if (ref.version !== null) {
          node.refs.commitChunk(ref.uid, ref.name, ref.uploadId, ref.version, ref.chunkId);
        }
        learner.kept.add(refKey(ref.uid, ref.name, ref.uploadId));
        learner.afterSeq = Math.max(learner.afterSeq, ref.seq);
      }
    });
    for (const ref of page) if (primary.chunks.has(ref.chunkId)) node.chunks.add(ref.chunkId);
    this.note(`${node.id} catch-up page of ${page.length}`);
    if (page.length < CATCH_UP_PAGE_REFS) {
      node.refs.dropExcept(learner.kept, learner.localSeqAtStart);
      node.learner = null;
    }
  }

  tickClock(): void {
    const roll = this.prng.intBelow(20);
    if (roll === 0) this.nowMs += 2 * UPLOAD_DEADLINE_MS * this.prng.nextFloat();
    else if (roll === 1) this.nowMs -= UPLOAD_DEADLINE_MS * this.prng.nextFloat();
    else this.nowMs += 50 + this.prng.intBelow(500);
    this.nowMs = Math.round(this.nowMs);
  }

  /** Every chunk of every kept version is on every in-sync node. */
  checkSafety(step: number): void {
    for (const record of this.store.scanVersions(null, 10_000)) {
      if (record.kind !== "live" || record.pruned === true) continue;
      const deletedThrough = this.store.deletedThrough(record.uid, record.name);
      if (record.version < deletedThrough) continue;
      for (const chunk of record.chunks) {
        for (const node of this.inSync()) {
          if (!node.chunks.has(chunk.id)) {
            this.problems.push(
              `step ${step}: ${node.id} lost chunk ${chunk.id.slice(-4)} of kept ` +
                `${record.name} v${record.version}`,
            );
          }
        }
      }
    }
  }

  /** After the heal: nothing left on any node that no kept version names. */
  checkNothingUnreferenced(): void {
    for (const node of this.nodes) {
      for (const chunkId of node.chunks) {
        if (!this.store.chunkKept(GROUP, chunkId)) {
          const mark = node.refs.chunkRefFacts(chunkId, UPLOADS_PER_CANDIDATE_MAX);
          this.problems.push(
            `after heal: ${node.id} still holds unreferenced chunk ${chunkId.slice(-4)} ` +
              `(${mark.committed} committed references, ${mark.pendingUploads.length} pending uploads)`,
          );
        }
      }
    }
  }

  note(line: string): void {
    this.trace.push(`[${this.nowMs - T0_MS}] ${line}`);
  }

  pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[this.prng.intBelow(items.length)];
  }
}

/** A part's MD5 as its upload recorded it (any 32 hex digits: only equality matters). */
function md5Of(uploadId: string): string {
  return new Bun.CryptoHasher("md5").update(uploadId).digest("hex");
}

function short(chunkId: string): string {
  return chunkId.slice(-2);
}

function describeNotices(notices: DeliveredBatch["notices"]): string {
  const parts = notices.map((item) => {
    const body = item.notice.body;
    const upload = "uploadId" in body ? body.uploadId : body.name;
    return `${item.notice.op}(${upload})`;
  });
  return `[${parts.join(" ")}]`;
}

/** Trace lines shown with a failure: enough to follow it, short enough to read. */
const TRACE_LINES_SHOWN = 60;

type Action = (world: World) => void;

const ACTIONS: ReadonlyArray<readonly [number, Action]> = [
  [4, (world) => world.place()],
  [8, (world) => world.put()],
  [4, (world) => world.commit()],
  [2, (world) => world.remove()],
  [1, (world) => world.versioning()],
  [1, (world) => world.removeVersion()],
  [1, (world) => world.multipartCreate()],
  [1, (world) => world.multipartComplete()],
  [1, (world) => world.multipartAbort()],
  [1, (world) => world.multipartExpire()],
  [5, (world) => world.deliver()],
  [1, (world) => world.failover()],
  [1, (world) => world.replayStale()],
  [
    3,
    (world) =>
      world.ask(world.pick(world.nodes) ?? (world.nodes[0] as StorageNode), world.prng.chance(0.3)),
  ],
  [3, (world) => world.act(world.pick(world.nodes) ?? (world.nodes[0] as StorageNode))],
  [1, (world) => world.wipe()],
  [4, (world) => world.catchUp(world.pick(world.nodes) ?? (world.nodes[0] as StorageNode))],
];
const ACTION_WEIGHT_TOTAL = ACTIONS.reduce((sum, [weight]) => sum + weight, 0);

function act(world: World): void {
  let roll = world.prng.intBelow(ACTION_WEIGHT_TOTAL);
  for (const [weight, action] of ACTIONS) {
    if (roll < weight) return action(world);
    roll -= weight;
  }
}

/** Deliver everything, finish catch-ups, pass every deadline, and collect twice everywhere. */
function heal(world: World): void {
  while (world.store.pendingNotices(GROUP, 1).length > 0) world.deliver();
  for (const node of world.nodes) while (node.learner !== null) world.catchUp(node);
  world.uploads.splice(0);
  world.nowMs = Math.max(world.nowMs, world.latestDeadlineMs) + 1;
  // A pass, then an audit: what the first closes, the second collects, committed or not.
  for (const audit of [false, true]) {
    for (const node of world.nodes) {
      world.ask(node, audit);
      world.act(node);
    }
  }
}

/** One seeded history; the problems it found. */
export function gcProtocolScenario(seed: number): string[] {
  const world = new World(new Prng(seed));
  try {
    for (let step = 0; step < STEPS && world.problems.length === 0; step += 1) {
      act(world);
      world.tickClock();
      world.checkSafety(step);
    }
    if (world.problems.length > 0)
      return [...world.problems, ...world.trace.slice(-TRACE_LINES_SHOWN)];
    heal(world);
    world.checkSafety(STEPS);
    world.checkNothingUnreferenced();
    return world.problems.length === 0
      ? []
      : [...world.problems, ...world.trace.slice(-TRACE_LINES_SHOWN)];
  } finally {
    world.close();
  }
}
