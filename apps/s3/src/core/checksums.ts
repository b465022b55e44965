/**
 * The CRC checksums S3 clients send in x-amz-checksum-crc32 / -crc32c (base64 of the 32-bit
 * value, big-endian), computed incrementally as a body streams through. Table-driven, pure.
 */

function table(polynomial: number): Uint32Array {
  const out = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte += 1) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ polynomial : crc >>> 1;
    out[byte] = crc >>> 0;
  }
  return out;
}

/** CRC-32 (ISO-HDLC, as zlib) and CRC-32C (Castagnoli), reflected polynomials. */
const CRC32_TABLE = table(0xedb88320);
const CRC32C_TABLE = table(0x82f63b78);

export type CrcKind = "crc32" | "crc32c";

export class Crc {
  private state = 0xffffffff;
  private readonly lookup: Uint32Array;

  constructor(kind: CrcKind) {
    this.lookup = kind === "crc32" ? CRC32_TABLE : CRC32C_TABLE;
  }

  update(bytes: Uint8Array): void {
    let crc = this.state;
    for (const byte of bytes) crc = (this.lookup[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
    this.state = crc;
  }

  /** The value as S3 writes it: the 4 bytes big-endian, in base64. */
  base64(): string {
    const value = (this.state ^ 0xffffffff) >>> 0;
    const bytes = [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
    return btoa(String.fromCharCode(...bytes));
  }
}
