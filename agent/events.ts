/**
 * The agent's event bus: the manager, reconciler and schedule runner emit; the WebSocket stream and
 * tests subscribe. Emitting never blocks or throws: a failing subscriber is dropped from that event.
 */
import type { AgentEvent } from './api/types.js';

/** An event without its timestamp (the bus stamps it). */
export type AgentEventInput = AgentEvent extends infer E ? (E extends { atMs: number } ? Omit<E, 'atMs'> : never) : never;

export class EventBus {
  private subscribers = new Set<(e: AgentEvent) => void>();
  private readonly recent: AgentEvent[] = [];

  constructor(private readonly now: () => number = Date.now, private readonly keep = 200) {}

  emit(e: AgentEventInput): void {
    const event = { ...e, atMs: this.now() } as AgentEvent;
    this.recent.push(event);
    if (this.recent.length > this.keep) this.recent.shift();
    for (const s of this.subscribers) {
      try {
        s(event);
      } catch {
        /* a subscriber's failure is its own */
      }
    }
  }

  subscribe(fn: (e: AgentEvent) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /** The most recent events, oldest first (bounded). */
  history(): AgentEvent[] {
    return [...this.recent];
  }
}
