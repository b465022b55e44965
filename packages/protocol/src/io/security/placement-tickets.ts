/**
 * Placement tickets and chunk receipts: how the directory and the storage groups vouch for one
 * another to a user in between. The directory's placeUpload hands the user a ticket per group
 * (MAC under the cluster key's "ticket" sub-key); a storage node takes a user's chunk only with
 * a ticket for its own group, that upload, that user, unexpired. The group primary's answer
 * carries a receipt (MAC under the "receipt" sub-key) naming group, chunk, size and upload; the
 * directory commits a manifest only if every chunk has one. So a user cannot write where the
 * directory did not place it, nor commit a manifest naming chunks no primary stored. Both are
 * stateless: any node with the key checks them. Owns the MACs; the handlers decide when.
 */

import { createHmac, timingSafeEqual } from "node:crypto";
import { fail, ok, type Result, type Ticket } from "../../core/index.ts";
import type { Keyring } from "./keyring.ts";

/** Receipt MACs: 128 bits, as the frame tags (RFC 4868's HMAC-SHA-256-128). */
export const RECEIPT_MAC_BYTES = 16;

export interface TicketGrant {
  readonly uploadId: string;
  readonly uid: string;
  readonly name: string;
  readonly group: string;
  readonly bytesMax: number;
}

export interface ReceiptFields {
  readonly group: string;
  readonly chunkId: string;
  readonly bytes: number;
  readonly uploadId: string;
}

/** What a ticket must match to admit a put here. */
export interface TicketUse {
  readonly group: string | null;
  readonly uid: string;
  readonly name: string;
  readonly uploadId: string;
}

function mac(key: Uint8Array, fields: readonly (string | number)[]): Buffer {
  // A JSON array is an unambiguous encoding: no field can bleed into the next.
  return createHmac("sha256", key).update(JSON.stringify(fields)).digest();
}

function ticketFields(ticket: Omit<Ticket, "keyId" | "mac">): (string | number)[] {
  const { uploadId, uid, name, group, bytesMax, expiresAtMs } = ticket;
  return ["ticket", uploadId, uid, name, group, bytesMax, expiresAtMs];
}

/**
 * A ticket under the keyring's signing key, valid until `expiresAtMs` (the upload's deadline:
 * past it the upload can no longer commit, so a put for it is refused too); null in insecure
 * mode (nothing to sign with).
 */
export function issueTicket(
  keyring: Keyring,
  grant: TicketGrant,
  expiresAtMs: number,
): Ticket | null {
  const signing = keyring.subKeys("ticket").signing;
  if (signing === null) return null;
  const unsigned = { ...grant, expiresAtMs };
  const tag = mac(signing.key, ticketFields(unsigned)).toString("base64url");
  return { ...unsigned, keyId: signing.keyId, mac: tag };
}

/** Whether `ticket` admits a put of `use`; TICKET_INVALID (UPLOAD_EXPIRED) says why not. */
export function checkTicket(
  keyring: Keyring,
  ticket: Ticket,
  use: TicketUse,
  nowMs: number,
): Result<void> {
  const key = keyring.subKeys("ticket").lookup(ticket.keyId);
  if (key === undefined)
    return fail("TICKET_INVALID", `the ticket is signed with unknown key ${ticket.keyId}`);
  const expected = mac(key, ticketFields(ticket));
  if (!timingSafeEqual(expected, Buffer.from(ticket.mac, "base64url"))) {
    return fail("TICKET_INVALID", "the ticket's MAC does not verify: not issued by the directory");
  }
  if (ticket.expiresAtMs <= nowMs) {
    return fail("UPLOAD_EXPIRED", "the upload ran past its deadline; upload the file again");
  }
  if (use.group === null || ticket.group !== use.group) {
    return fail("TICKET_INVALID", `the ticket is for group ${ticket.group}, not this node's`);
  }
  if (ticket.uid !== use.uid || ticket.name !== use.name || ticket.uploadId !== use.uploadId) {
    return fail("TICKET_INVALID", "the ticket is for another user, name or upload");
  }
  return ok(undefined);
}

/** The primary's receipt for a stored chunk; null in insecure mode. */
export function issueReceipt(keyring: Keyring, fields: ReceiptFields): string | null {
  const signing = keyring.subKeys("receipt").signing;
  if (signing === null) return null;
  return `${signing.keyId}.${receiptMac(signing.key, fields).toString("base64url")}`;
}

export function receiptValid(keyring: Keyring, receipt: string, fields: ReceiptFields): boolean {
  const [keyId = "", tag = ""] = receipt.split(".");
  const key = keyring.subKeys("receipt").lookup(keyId);
  if (key === undefined) return false;
  const given = Buffer.from(tag, "base64url");
  return given.length === RECEIPT_MAC_BYTES && timingSafeEqual(receiptMac(key, fields), given);
}

function receiptMac(key: Uint8Array, fields: ReceiptFields): Buffer {
  const { group, chunkId, bytes, uploadId } = fields;
  return mac(key, ["receipt", group, chunkId, bytes, uploadId]).subarray(0, RECEIPT_MAC_BYTES);
}
