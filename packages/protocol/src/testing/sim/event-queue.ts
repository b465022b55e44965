/**
 * A min-heap of timed events for the simulator. Ties on time break by insertion order, so two
 * runs with the same seed pop events in exactly the same order (a plain heap would not).
 */

interface Entry<T> {
  readonly atMs: number;
  readonly order: number;
  readonly value: T;
}

export class EventQueue<T> {
  private readonly heap: Array<Entry<T>> = [];
  private nextOrder = 0;

  get size(): number {
    return this.heap.length;
  }

  push(atMs: number, value: T): void {
    this.heap.push({ atMs, order: this.nextOrder, value });
    this.nextOrder += 1;
    this.siftUp(this.heap.length - 1);
  }

  peekTimeMs(): number | undefined {
    return this.heap[0]?.atMs;
  }

  pop(): { atMs: number; value: T } | undefined {
    const top = this.heap[0];
    if (top === undefined) return undefined;
    const last = this.heap.pop() as Entry<T>;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    return { atMs: top.atMs, value: top.value };
  }

  private less(a: number, b: number): boolean {
    const x = this.heap[a] as Entry<T>;
    const y = this.heap[b] as Entry<T>;
    return x.atMs < y.atMs || (x.atMs === y.atMs && x.order < y.order);
  }

  private swap(a: number, b: number): void {
    const held = this.heap[a] as Entry<T>;
    this.heap[a] = this.heap[b] as Entry<T>;
    this.heap[b] = held;
  }

  private siftUp(index: number): void {
    let child = index;
    while (child > 0) {
      const parent = (child - 1) >>> 1;
      if (!this.less(child, parent)) return;
      this.swap(child, parent);
      child = parent;
    }
  }

  private siftDown(index: number): void {
    let parent = index;
    for (;;) {
      const left = 2 * parent + 1;
      const right = left + 1;
      let smallest = parent;
      if (left < this.heap.length && this.less(left, smallest)) smallest = left;
      if (right < this.heap.length && this.less(right, smallest)) smallest = right;
      if (smallest === parent) return;
      this.swap(parent, smallest);
      parent = smallest;
    }
  }
}
