/**
 * The interaction log as parallel typed arrays (one row per event), with raw ids as in the
 * source data. Timestamps are seconds since the epoch (exact in a float64 up to 2^53).
 */
export interface Interactions {
  readonly userId: Int32Array;
  readonly itemId: Int32Array;
  /** Explicit rating, or 1 for logs without ratings. */
  readonly rating: Float32Array;
  readonly timestamp: Float64Array;
}

export function interactionCount(x: Interactions): number {
  return x.userId.length;
}

export function allocInteractions(n: number): Interactions {
  return {
    userId: new Int32Array(n),
    itemId: new Int32Array(n),
    rating: new Float32Array(n),
    timestamp: new Float64Array(n),
  };
}

/** The rows at `rows`, in that order. */
export function selectRows(x: Interactions, rows: ArrayLike<number>): Interactions {
  const out = allocInteractions(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    out.userId[i] = x.userId[r];
    out.itemId[i] = x.itemId[r];
    out.rating[i] = x.rating[r];
    out.timestamp[i] = x.timestamp[r];
  }
  return out;
}

/** Item metadata: titles and genre lists, indexed like `itemId`. */
export interface ItemCatalog {
  readonly itemId: Int32Array;
  readonly title: string[];
  readonly genres: string[][];
}

/** Free-text tags users attached to items (MovieLens tags.csv). */
export interface Tags {
  readonly userId: Int32Array;
  readonly itemId: Int32Array;
  readonly tag: string[];
  readonly timestamp: Float64Array;
}
