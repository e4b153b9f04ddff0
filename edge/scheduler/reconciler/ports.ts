/**
 * The ports in use on one node, handing out the lowest free port of its range without scanning it
 * (the default range has 10,000 ports). Ports are handed out lowest first, so the ports in use are
 * mostly one block from the bottom of the range: kept as its length, with a set only for the ports
 * beyond it (left by stopped tasks, or outside a changed range). Building the view for 100,000
 * tasks then costs a counter increment per task instead of a set insertion.
 */
export class PortPool {
  /** Every port in [min, min + dense) is in use; min + dense never is. */
  private dense = 0;
  /** Ports in use that are not in the dense block. */
  private extra: Set<number> | undefined;
  private usedInRange = 0;

  constructor(
    readonly min: number,
    readonly max: number,
  ) {}

  get free(): number {
    return this.max - this.min + 1 - this.usedInRange;
  }

  has(port: number): boolean {
    return (port >= this.min && port < this.min + this.dense) || this.extra?.has(port) === true;
  }

  /** Records a port a task already holds (it may lie outside the range if the range changed). */
  take(port: number): void {
    if (this.has(port)) return;
    if (port >= this.min && port <= this.max) this.usedInRange++;
    if (port === this.min + this.dense) this.grow();
    else (this.extra ??= new Set()).add(port);
  }

  release(port: number): void {
    if (!this.has(port)) return;
    if (port >= this.min && port <= this.max) this.usedInRange--;
    const end = this.min + this.dense;
    if (port >= this.min && port < end) {
      // The block now ends below `port`; the ports above it stay in use, as extras.
      if (port + 1 < end) this.extra ??= new Set();
      for (let p = port + 1; p < end; p++) this.extra!.add(p);
      this.dense = port - this.min;
    } else {
      this.extra!.delete(port);
    }
  }

  /** The lowest free port, now in use; undefined when the range is full. */
  allocate(): number | undefined {
    if (this.free <= 0) return undefined;
    const port = this.min + this.dense; // free by the invariant, and in range since a port is free
    this.usedInRange++;
    this.grow();
    return port;
  }

  /** Extends the block by one port, then over any extras it now reaches. */
  private grow(): void {
    this.dense++;
    const extra = this.extra;
    if (!extra?.size) return;
    while (extra.delete(this.min + this.dense)) this.dense++;
  }
}
