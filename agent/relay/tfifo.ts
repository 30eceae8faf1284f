/**
 * netem's tfifo: packets ordered by time_to_send (a binary heap here, an rbtree in the kernel), ties
 * kept in arrival order, plus a head queue for packets sent "now" by the reorder stage (they go
 * out before anything in the time-sorted part). Jitter therefore reorders; rate does not (its send
 * times are monotone).
 */

export interface TimedItem<T> {
  timeNs: number;
  seq: number;
  item: T;
}

export class Tfifo<T> {
  private heap: TimedItem<T>[] = [];
  private head: T[] = [];
  private headPos = 0;
  private seq = 0;
  /** Latest time_to_send in the time-sorted part (netem's "last" for rate), null when empty. */
  private maxTimeNs: number | null = null;

  get length(): number {
    return this.heap.length + this.head.length - this.headPos;
  }

  /** Latest queued send time, or null when the time-sorted part is empty. */
  lastTimeNs(): number | null {
    return this.heap.length === 0 ? null : this.maxTimeNs;
  }

  pushTimed(timeNs: number, item: T): void {
    const node: TimedItem<T> = { timeNs, seq: this.seq++, item };
    const h = this.heap;
    h.push(node);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(node, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = node;
    if (this.maxTimeNs === null || h.length === 1 || timeNs > this.maxTimeNs) this.maxTimeNs = timeNs;
  }

  pushHead(item: T): void {
    this.head.push(item);
  }

  hasHead(): boolean {
    return this.headPos < this.head.length;
  }

  shiftHead(): T | undefined {
    if (this.headPos >= this.head.length) return undefined;
    const v = this.head[this.headPos++];
    if (this.headPos > 1024 && this.headPos * 2 > this.head.length) {
      this.head = this.head.slice(this.headPos);
      this.headPos = 0;
    }
    return v;
  }

  peekTimed(): TimedItem<T> | undefined {
    return this.heap[0];
  }

  popTimed(): TimedItem<T> | undefined {
    const h = this.heap;
    const top = h[0];
    if (!top) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && less(h[r]!, h[l]!) ? r : l;
        if (!less(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    } else {
      this.maxTimeNs = null;
    }
    return top;
  }

  /** Remove everything (returns the removed items, head queue first). */
  drain(): T[] {
    const out = this.head.slice(this.headPos);
    const timed = [...this.heap].sort((a, b) => (less(a, b) ? -1 : 1));
    for (const t of timed) out.push(t.item);
    this.heap = [];
    this.head = [];
    this.headPos = 0;
    this.maxTimeNs = null;
    return out;
  }
}

function less<T>(a: TimedItem<T>, b: TimedItem<T>): boolean {
  return a.timeNs < b.timeNs || (a.timeNs === b.timeNs && a.seq < b.seq);
}
