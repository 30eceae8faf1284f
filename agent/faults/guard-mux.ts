/**
 * One revert guard, several plan owners (impairments, faults): each owner replaces its own part;
 * the guard receives the concatenation (faults first: a link comes back up before tc is reverted).
 */
import type { GuardPort } from '../impairments/manager.js';

export class GuardMux {
  private readonly parts = new Map<string, string[][]>();

  constructor(private readonly inner: GuardPort, private readonly order: string[]) {}

  port(owner: string): GuardPort {
    return {
      setPlan: (plan) => {
        this.parts.set(owner, plan.map((a) => [...a]));
        return this.inner.setPlan(this.order.flatMap((o) => this.parts.get(o) ?? []));
      },
    };
  }
}
