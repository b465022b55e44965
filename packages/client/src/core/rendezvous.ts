/**
 * Which storage group holds a chunk: rendezvous (highest-random-weight) hashing of the chunk
 * id with each group's name. Every client ranks the groups the same way without talking to
 * anyone, the load spreads evenly, and adding a group moves only the chunks that now rank the
 * new group first (about 1/n of them). Pure: a string hash, no crypto, no randomness.
 */

const MASK_32 = 0xffff_ffff;
const HIGH_BITS_SCALE = 2 ** 32;
const LOW_BITS_KEPT = 0x1f_ffff; // 21 bits: 32 + 21 = 53 bits, a safe integer

/**
 * cyrb53: a fast 53-bit string hash with good avalanche; both 32-bit lanes are mixed with
 * Math.imul so every input character moves every output bit. Not cryptographic: it only has
 * to spread the (already uniform) chunk ids over groups.
 */
export function hash53(text: string, seed = 0): number {
  let h1 = 0xdead_beef ^ seed;
  let h2 = 0x41c6_ce57 ^ seed;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    h1 = Math.imul(h1 ^ code, 2_654_435_761);
    h2 = Math.imul(h2 ^ code, 1_597_334_677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2_246_822_507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3_266_489_909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2_246_822_507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3_266_489_909);
  return HIGH_BITS_SCALE * (h2 & LOW_BITS_KEPT) + ((h1 & MASK_32) >>> 0);
}

/** The weight of `group` for `chunkId`; the group of highest weight wins. */
export function rendezvousWeight(chunkId: string, group: string): number {
  // The separator cannot occur in a hex id or a group name, so ("ab","c") ≠ ("a","bc").
  return hash53(`${chunkId}\u0000${group}`);
}

/**
 * Every group, best first, for this chunk. Ties (vanishingly rare) break by name so the order
 * never depends on the order the groups were listed in.
 */
export function rankGroups(chunkId: string, groups: readonly string[]): string[] {
  const weighted = [...new Set(groups)].map((group) => ({
    group,
    weight: rendezvousWeight(chunkId, group),
  }));
  weighted.sort(
    (a, b) => b.weight - a.weight || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0),
  );
  return weighted.map((entry) => entry.group);
}

/** The one group this chunk goes to, or null when there are no groups. */
export function pickGroup(chunkId: string, groups: readonly string[]): string | null {
  let best: string | null = null;
  let bestWeight = -1;
  for (const group of groups) {
    const weight = rendezvousWeight(chunkId, group);
    if (weight > bestWeight || (weight === bestWeight && best !== null && group < best)) {
      best = group;
      bestWeight = weight;
    }
  }
  return best;
}
