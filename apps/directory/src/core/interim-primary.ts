/**
 * Until the directory group replicates its log (Raft), exactly one directory node may hold
 * metadata, or two clients could see two different namespaces. This rule picks it without any
 * exchange: the lowest address among a node's own and its `--join` peers' addresses. Every node
 * started with the same set agrees; the others answer NOT_PRIMARY pointing at it, which clients
 * and storage nodes already follow. Raft's election replaces this rule.
 */

import { parseAddress } from "@ftfs/protocol/core";

function addressKey(address: string): [string, number] {
  const parsed = parseAddress(address);
  return parsed.ok ? [parsed.value.host, parsed.value.port] : [address, 0];
}

function compareAddresses(a: string, b: string): number {
  const [hostA, portA] = addressKey(a);
  const [hostB, portB] = addressKey(b);
  if (hostA !== hostB) return hostA < hostB ? -1 : 1;
  return portA - portB;
}

export function interimPrimaryAddress(self: string, peers: readonly string[]): string {
  return [self, ...peers].sort(compareAddresses)[0] ?? self;
}
