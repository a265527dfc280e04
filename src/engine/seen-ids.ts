// The event_ids a run has seen, to refuse a second event with the same id (Pinterest would keep
// only one: a primary key that is not unique). Held as 64-bit fingerprints in an open-addressing
// table, 8 bytes a slot: about 64 MiB at 5M events, where a Set of strings would take ~400 MiB.
// Two different ids share a fingerprint with odds of about n²/2^65 (1 in 10^6 at 5M events).

const EMPTY = 0;
const MAX_LOAD = 0.75;

export class SeenIds {
  private high = new Uint32Array(1 << 12);
  private low = new Uint32Array(1 << 12);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds the id in `text` from `start` to `end`; false when it was there already. */
  add(text: string, start = 0, end = text.length): boolean {
    // Two independent 32-bit hashes (FNV-1a and a multiplicative one) over the UTF-16 units.
    let a = 0x811c9dc5;
    let b = 0x9e3779b9 ^ (end - start);
    for (let i = start; i < end; i++) {
      const c = text.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    a ^= a >>> 16;
    a = Math.imul(a, 0x85ebca6b);
    a ^= a >>> 13;
    // The high word is never 0: 0 marks an empty slot.
    const hi = (a | 1) >>> 0;
    const lo = b >>> 0;
    if (this.count + 1 > this.high.length * MAX_LOAD) this.grow();
    return this.insert(hi, lo);
  }

  private insert(hi: number, lo: number): boolean {
    const mask = this.high.length - 1;
    for (let slot = (lo ^ (hi >>> 7)) & mask; ; slot = (slot + 1) & mask) {
      const h = this.high[slot]!;
      if (h === EMPTY) {
        this.high[slot] = hi;
        this.low[slot] = lo;
        this.count++;
        return true;
      }
      if (h === hi && this.low[slot] === lo) return false;
    }
  }

  private grow(): void {
    const { high, low } = this;
    this.high = new Uint32Array(high.length * 2);
    this.low = new Uint32Array(low.length * 2);
    this.count = 0;
    for (let i = 0; i < high.length; i++) if (high[i] !== EMPTY) this.insert(high[i]!, low[i]!);
  }
}
