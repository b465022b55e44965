/**
 * The client's picture of the storage groups (epoch, primary, in-sync replicas), as the
 * directory last described them. Refreshed from the directory's listGroups (open to every user;
 * clusterStatus is an admin's, so a user's client on a secure cluster could never refresh and
 * kept writing to a dead primary) when a storage node refuses or fails; concurrent refreshes
 * share one request so a hundred failing chunk puts ask the directory once.
 */

import type { GroupView } from "@ftfs/protocol/core";
import type { DirectoryClient } from "./directory.ts";

export class GroupViews {
  private readonly directory: DirectoryClient;
  private readonly views = new Map<string, GroupView>();
  private refreshing: Promise<void> | null = null;

  constructor(directory: DirectoryClient, initial: readonly GroupView[]) {
    this.directory = directory;
    this.accept(initial);
  }

  get(group: string): GroupView | undefined {
    return this.views.get(group);
  }

  /** Names of every group known, in the order first seen. */
  names(): string[] {
    return [...this.views.keys()];
  }

  /**
   * Ask the directory for the current configuration, once: the caller is a chunk's retry loop,
   * which tries again anyway. Shared by concurrent callers.
   */
  refresh(): Promise<void> {
    this.refreshing ??= this.directory
      .callOnce("listGroups", {})
      .then((status) => this.accept(status.groups))
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  private accept(views: readonly GroupView[]): void {
    for (const view of views) {
      const known = this.views.get(view.group);
      // A directory backup can lag: never step back to an older epoch than one already seen.
      if (known === undefined || view.epoch >= known.epoch) this.views.set(view.group, view);
    }
  }
}
