/**
 * The ports in use on one node, handing out the lowest free port of its range. Every port below
 * `next` is in use, so an allocation starts there instead of at the bottom of the range: placing
 * tasks one after another costs O(1) each, not a scan of the (default 10,000-port) range.
 */
export class PortPool {
  private readonly used = new Set<number>();
  private usedInRange = 0;
  private next: number;

  constructor(
    readonly min: number,
    readonly max: number,
  ) {
    this.next = min;
  }

  get free(): number {
    return this.max - this.min + 1 - this.usedInRange;
  }

  has(port: number): boolean {
    return this.used.has(port);
  }

  /** Records a port a task already holds (it may lie outside the range if the range changed). */
  take(port: number): void {
    if (this.used.has(port)) return;
    this.used.add(port);
    if (port >= this.min && port <= this.max) this.usedInRange++;
  }

  release(port: number): void {
    if (!this.used.delete(port)) return;
    if (port >= this.min && port <= this.max) this.usedInRange--;
    if (port < this.next && port >= this.min) this.next = port;
  }

  /** The lowest free port, now in use; undefined when the range is full. */
  allocate(): number | undefined {
    if (this.free <= 0) return undefined;
    let port = this.next;
    while (this.used.has(port)) port++;
    this.used.add(port);
    this.usedInRange++;
    this.next = port + 1;
    return port;
  }
}
