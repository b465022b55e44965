/**
 * The CRC checksums S3 clients send in x-amz-checksum-crc32 / -crc32c (base64 of the 32-bit
 * value, big-endian), computed incrementally as a body streams through. Pure: slicing-by-8
 * tables (eight bytes a step; a byte at a time was 30 MB/s, too slow for the bodies SDKs send).
 */

/** Slicing tables: table k maps a byte to its CRC contribution k bytes further on. */
function tables(polynomial: number): Uint32Array[] {
  const first = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte += 1) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ polynomial : crc >>> 1;
    first[byte] = crc >>> 0;
  }
  const out = [first];
  for (let k = 1; k < SLICES; k += 1) {
    const previous = out[k - 1] ?? first;
    const next = new Uint32Array(256);
    for (let byte = 0; byte < 256; byte += 1) {
      const value = previous[byte] ?? 0;
      next[byte] = ((first[value & 0xff] ?? 0) ^ (value >>> 8)) >>> 0;
    }
    out.push(next);
  }
  return out;
}

const SLICES = 8;
/** CRC-32 (ISO-HDLC, as zlib) and CRC-32C (Castagnoli), reflected polynomials. */
const CRC32_TABLES = tables(0xedb88320);
const CRC32C_TABLES = tables(0x82f63b78);

export type CrcKind = "crc32" | "crc32c";

export class Crc {
  private state = 0xffffffff;
  private readonly slices: Uint32Array[];

  constructor(kind: CrcKind) {
    this.slices = kind === "crc32" ? CRC32_TABLES : CRC32C_TABLES;
  }

  update(bytes: Uint8Array): void {
    const [t0, t1, t2, t3, t4, t5, t6, t7] = this.slices as [
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
    ];
    let crc = this.state;
    let at = 0;
    const end8 = bytes.length - (bytes.length % SLICES);
    for (; at < end8; at += SLICES) {
      const low =
        (crc ^
          (bytes[at] as number) ^
          ((bytes[at + 1] as number) << 8) ^
          ((bytes[at + 2] as number) << 16) ^
          ((bytes[at + 3] as number) << 24)) >>>
        0;
      crc =
        (t7[low & 0xff] as number) ^
        (t6[(low >>> 8) & 0xff] as number) ^
        (t5[(low >>> 16) & 0xff] as number) ^
        (t4[low >>> 24] as number) ^
        (t3[bytes[at + 4] as number] as number) ^
        (t2[bytes[at + 5] as number] as number) ^
        (t1[bytes[at + 6] as number] as number) ^
        (t0[bytes[at + 7] as number] as number);
    }
    for (; at < bytes.length; at += 1) {
      crc = (t0[(crc ^ (bytes[at] as number)) & 0xff] as number) ^ (crc >>> 8);
    }
    this.state = crc >>> 0;
  }

  /** The value as S3 writes it: the 4 bytes big-endian, in base64. */
  base64(): string {
    const value = (this.state ^ 0xffffffff) >>> 0;
    const bytes = [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
    return btoa(String.fromCharCode(...bytes));
  }
}
