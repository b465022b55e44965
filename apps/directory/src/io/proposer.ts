/**
 * How a handler turns a command into a change: propose it, get its outcome once it is applied.
 * LocalProposer is the single-node path: the next log index, applied to the store at once.
 * Raft will implement the same interface (replicate to a majority, then apply), so handlers do
 * not change when replication arrives.
 */

import type { Result } from "@ftfs/protocol/core";
import {
  applyCommand,
  INITIAL_TERM,
  type Command,
  type MetadataStore,
  type OutcomeOf,
} from "../core/index.ts";

export interface Proposer {
  /** The current term (Raft's), which clients see as the directory's epoch. */
  readonly term: number;
  propose<C extends Command>(command: C): Promise<Result<OutcomeOf<C>>>;
}

/** A fresh store starts in INITIAL_TERM with this node as its own primary. */
export function ensureTerm(store: MetadataStore, node: string): number {
  const state = store.readHardState();
  if (state.term > 0) return state.term;
  store.saveHardState({ term: INITIAL_TERM, votedFor: node });
  return INITIAL_TERM;
}

export class LocalProposer implements Proposer {
  readonly term: number;
  private readonly store: MetadataStore;
  private readonly onApplied: () => void;

  /** onApplied runs after each applied command (the outbox uses it to send at once). */
  constructor(store: MetadataStore, term: number, onApplied: () => void) {
    this.store = store;
    this.term = term;
    this.onApplied = onApplied;
  }

  async propose<C extends Command>(command: C): Promise<Result<OutcomeOf<C>>> {
    const index = this.store.lastApplied() + 1;
    const result = applyCommand(this.store, index, command, this.term);
    this.onApplied();
    return result;
  }
}
