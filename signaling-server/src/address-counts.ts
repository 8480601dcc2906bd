/** How many of something each client address holds (rooms opened, memberships of one room). */
export class AddressCounts {
  private readonly counts = new Map<string, number>();

  get(address: string): number {
    return this.counts.get(address) ?? 0;
  }

  add(address: string): void {
    this.counts.set(address, this.get(address) + 1);
  }

  /** Forgets an address at zero, so the map holds only addresses that hold something. */
  remove(address: string): void {
    const left = this.get(address) - 1;
    if (left > 0) this.counts.set(address, left);
    else this.counts.delete(address);
  }

  clear(): void {
    this.counts.clear();
  }
}
