/**
 * Runs async jobs one at a time, in call order, whatever happened to the previous one. Each
 * caller gets its own job's result or failure from run(); the queue's tail only orders jobs,
 * so a failed job neither blocks the next nor goes unreported (its caller has it).
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const p = this.tail.then(job, job);
    // The tail must never reject (the next job would run as a rejection handler with the
    // error); the failure itself is delivered to run()'s caller through `p`.
    this.tail = p.then(
      () => undefined,
      // eslint-disable-next-line no-restricted-syntax -- run()'s caller receives this failure through `p`
      () => undefined,
    );
    return p;
  }
}
