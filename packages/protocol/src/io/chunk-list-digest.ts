/**
 * The digest of an object joined from multipart upload parts. Its bytes' SHA-256 would need
 * every byte read at completion; instead its version records the SHA-256 of its chunk list:
 * the chunk ids (each a SHA-256 of its chunk's bytes) in order, as 32 raw bytes each. A reader
 * checks every chunk against its id as it arrives, and the list against this, so the object is
 * checked end to end all the same. No chunks (an empty object): the SHA-256 of no bytes.
 */

export function chunkListSha256(chunkIds: readonly string[]): string {
  const hasher = new Bun.CryptoHasher("sha256");
  for (const id of chunkIds) hasher.update(Buffer.from(id, "hex"));
  return hasher.digest("hex");
}
