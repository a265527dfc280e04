// A list of short texts as one string and its end offsets: it crosses threads as two values
// instead of thousands, and the main thread only cuts out the few it needs.

export interface PackedTexts {
  text: string;
  /** Text i spans ends[i - 1] (0 for the first)..ends[i], in UTF-16 code units. */
  ends: Uint32Array;
  /** 1 where the value is null; absent when none is. */
  nulls?: Uint8Array;
}

export function packTexts(list: readonly (string | null)[]): PackedTexts {
  const ends = new Uint32Array(list.length);
  let nulls: Uint8Array | undefined;
  let end = 0;
  for (let i = 0; i < list.length; i++) {
    const value = list[i];
    if (value === null || value === undefined) (nulls ??= new Uint8Array(list.length))[i] = 1;
    else end += value.length;
    ends[i] = end;
  }
  // Nulls take no room: joining them adds nothing.
  return { text: list.join(''), ends, ...(nulls ? { nulls } : {}) };
}

export function textAt(packed: PackedTexts, i: number): string | null {
  if (packed.nulls?.[i]) return null;
  return packed.text.slice(i > 0 ? packed.ends[i - 1]! : 0, packed.ends[i]!);
}

/** The buffers to transfer (not copy) along with the list. */
export function transferablesOf(packed: PackedTexts): ArrayBuffer[] {
  return packed.nulls ? [packed.ends.buffer as ArrayBuffer, packed.nulls.buffer as ArrayBuffer] : [packed.ends.buffer as ArrayBuffer];
}
