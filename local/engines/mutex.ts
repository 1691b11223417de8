/** A FIFO lock: callers wait their turn, and each holder gets a release function to call once. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  /** Waits until the lock is free and takes it. */
  lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => {
      release = resolve;
    });
    const acquired = this.tail.then(() => {
      let released = false;
      return () => {
        if (released) return;
        released = true;
        release();
      };
    });
    this.tail = this.tail.then(() => next);
    return acquired;
  }
}
