// The event_ids a run has seen, to refuse a second event with the same id (Pinterest would keep
// only one: a primary key that is not unique). Held as 64-bit fingerprints in open-addressing
// tables, 8 bytes a slot: a fraction of a Set of strings (docs/adr/0005-seen-ids.md).
// Two different ids share a fingerprint with odds of about n²/2^65.
// The fingerprints are spread over 256 tables that grow one at a time, so growing never holds
// an old and a new copy of everything at once.

const EMPTY = 0;
const MAX_LOAD = 0.75;
const SHARD_BITS = 8;

class Shard {
  high = new Uint32Array(1 << 8);
  low = new Uint32Array(1 << 8);
  count = 0;

  add(hi: number, lo: number): boolean {
    if (this.count + 1 > this.high.length * MAX_LOAD) this.grow();
    return this.insert(hi, lo);
  }

  private insert(hi: number, lo: number): boolean {
    const mask = this.high.length - 1;
    for (let slot = lo & mask; ; slot = (slot + 1) & mask) {
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

/** MurmurHash3's finalizer: every input bit reaches every output bit. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class SeenIds {
  private readonly shards = Array.from({ length: 1 << SHARD_BITS }, () => new Shard());
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
    a = mix(a);
    b = mix(b);
    // The high word picks the table and is never 0 (0 marks an empty slot); the low word the slot.
    const hi = (a | 1) >>> 0;
    const added = this.shards[hi >>> (32 - SHARD_BITS)]!.add(hi, b >>> 0);
    if (added) this.count++;
    return added;
  }
}
