// Named asynchronous mutexes for one coordinator. A Durable Object's input gate opens while it awaits storage
// I/O, so other calls interleave there; these locks keep a key's commit, delete and the begin() of a new write
// of it (and a deltaspace's reference collection and begin()) from interleaving.
// Deadlock rule: callers take key locks ("k:") in sorted order before deltaspace locks ("d:").

export class Locks {
  private readonly tails = new Map<string, Promise<void>>();

  /** Run `work` holding every named lock, taken in the given order and released together. */
  async with<T>(names: string[], work: () => Promise<T>): Promise<T> {
    const releases: Array<() => void> = [];
    try {
      for (const name of names) releases.push(await this.acquire(name));
      return await work();
    } finally {
      for (const release of releases.reverse()) release();
    }
  }

  private async acquire(name: string): Promise<() => void> {
    const previous = this.tails.get(name) ?? Promise.resolve();
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const tail = previous.then(() => held);
    this.tails.set(name, tail);
    await previous;
    return () => {
      release();
      if (this.tails.get(name) === tail) this.tails.delete(name);
    };
  }
}
