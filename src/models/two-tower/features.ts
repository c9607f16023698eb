import type { ItemCatalog, Tags } from '../../data/interactions.js';

/**
 * Item content features, the part of the item tower that needs no interactions (cold start):
 *   genres  multi-hot over the catalogue's genres (G columns)
 *   year    one-hot release-year bucket, from "(YYYY)" at the end of the title: bucket b holds
 *           years with exactly b edges ≤ year; the last column means "unknown" (Y columns)
 *   tags    multi-hot over the most widely used tags, lower-cased (T columns)
 * A row is [genres | year | tags]; the vocabularies are saved with the model (features.json)
 * so a serving stack builds the same vectors.
 */
export interface FeatureVocab {
  readonly genres: string[];
  readonly yearEdges: number[];
  readonly tags: string[];
}

export interface FeatureWidths {
  readonly genres: number;
  readonly year: number;
  readonly tags: number;
  readonly total: number;
}

export function featureWidths(v: FeatureVocab): FeatureWidths {
  const genres = v.genres.length;
  const year = v.yearEdges.length + 2;
  const tags = v.tags.length;
  return { genres, year, tags, total: genres + year + tags };
}

/** MovieLens marks a movie without genres with this pseudo-genre. */
const NO_GENRES = '(no genres listed)';

/** Release year from a MovieLens title such as "Heat (1995)" or "Fawlty Towers (1975-1979)"; NaN when absent. */
export function releaseYear(title: string): number {
  const m = /\((\d{4})(?:\s*[-–]\s*\d{0,4}\s*)?\)\s*$/.exec(title);
  return m ? Number(m[1]) : NaN;
}

/** Normalised tag text: tags differ in case and spacing across users. */
export function normaliseTag(tag: string): string {
  return tag.trim().toLowerCase().replace(/\s+/g, ' ');
}

/**
 * Vocabularies from the catalogue and the tags applied up to `tagsUntil` (a timestamp; later
 * tags could describe the future of a temporal split).
 */
export function buildVocab(
  catalog: ItemCatalog | null,
  tags: Tags | null,
  opts: { tagsUntil: number; tagVocab: number; yearBuckets: number },
): FeatureVocab {
  const genreSet = new Set<string>();
  const years: number[] = [];
  if (catalog) {
    for (let r = 0; r < catalog.itemId.length; r++) {
      for (const g of catalog.genres[r]) if (g !== NO_GENRES) genreSet.add(g);
      const y = releaseYear(catalog.title[r]);
      if (Number.isFinite(y)) years.push(y);
    }
  }
  return {
    genres: [...genreSet].sort(),
    yearEdges: quantileEdges(years, opts.yearBuckets),
    tags: topTags(tags, opts.tagsUntil, opts.tagVocab),
  };
}

/** Distinct interior quantiles splitting `values` into about `buckets` equal groups. */
function quantileEdges(values: number[], buckets: number): number[] {
  if (values.length === 0) return [];
  const sorted = Float64Array.from(values).sort();
  const edges: number[] = [];
  for (let b = 1; b < buckets; b++) {
    const v = sorted[Math.floor((b * sorted.length) / buckets)];
    if (v > sorted[0] && (edges.length === 0 || v > edges[edges.length - 1])) edges.push(v);
  }
  return edges;
}

/** The tags applied to the most distinct items (at least two), ties by text. */
function topTags(tags: Tags | null, until: number, size: number): string[] {
  if (!tags || size === 0) return [];
  const itemsOfTag = new Map<string, Set<number>>();
  for (let r = 0; r < tags.tag.length; r++) {
    if (tags.timestamp[r] > until) continue;
    const t = normaliseTag(tags.tag[r]);
    if (t.length === 0) continue;
    const set = itemsOfTag.get(t) ?? new Set<number>();
    itemsOfTag.set(t, set);
    set.add(tags.itemId[r]);
  }
  return [...itemsOfTag.entries()]
    .filter(([, s]) => s.size >= 2)
    .sort((a, b) => b[1].size - a[1].size || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, size)
    .map(([t]) => t);
}

/**
 * The feature rows of every catalogue item (and of items seen only in interactions, which get
 * the "unknown year" row), looked up by raw item id.
 */
export class ItemContent {
  readonly widths: FeatureWidths;
  private readonly rowOf = new Map<number, number>();

  /** `rows` is `rawIds.length × widths.total`, row-major. */
  constructor(
    readonly vocab: FeatureVocab,
    readonly rawIds: Int32Array,
    readonly rows: Float32Array,
  ) {
    this.widths = featureWidths(vocab);
    if (rows.length !== rawIds.length * this.widths.total) throw new Error('ItemContent: rows do not match the ids and the vocabulary');
    for (let i = 0; i < rawIds.length; i++) this.rowOf.set(rawIds[i], i);
  }

  static build(vocab: FeatureVocab, catalog: ItemCatalog | null, tags: Tags | null, tagsUntil: number): ItemContent {
    const w = featureWidths(vocab);
    const ids = catalog ? catalog.itemId : new Int32Array(0);
    const rows = new Float32Array(ids.length * w.total);
    const genreCol = new Map(vocab.genres.map((g, i) => [g, i]));
    const tagCol = new Map(vocab.tags.map((t, i) => [t, w.genres + w.year + i]));
    const rowOf = new Map<number, number>();
    for (let r = 0; r < ids.length; r++) {
      rowOf.set(ids[r], r);
      const base = r * w.total;
      for (const g of catalog!.genres[r]) {
        const c = genreCol.get(g);
        if (c !== undefined) rows[base + c] = 1;
      }
      rows[base + w.genres + yearBucket(vocab, releaseYear(catalog!.title[r]))] = 1;
    }
    if (tags) {
      for (let t = 0; t < tags.tag.length; t++) {
        if (tags.timestamp[t] > tagsUntil) continue;
        const r = rowOf.get(tags.itemId[t]);
        const c = tagCol.get(normaliseTag(tags.tag[t]));
        if (r !== undefined && c !== undefined) rows[r * w.total + c] = 1;
      }
    }
    return new ItemContent(vocab, Int32Array.from(ids), rows);
  }

  /** Feature rows for raw item ids, `rawIds.length × widths.total`; unknown ids get the "unknown year" row. */
  rowsFor(rawIds: Int32Array): Float32Array {
    const w = this.widths.total;
    const out = new Float32Array(rawIds.length * w);
    for (let i = 0; i < rawIds.length; i++) {
      const r = this.rowOf.get(rawIds[i]);
      if (r === undefined) out[i * w + this.widths.genres + this.widths.year - 1] = 1;
      else out.set(this.rows.subarray(r * w, (r + 1) * w), i * w);
    }
    return out;
  }
}

/** Column of the year block for a year (NaN = unknown, the last column). */
export function yearBucket(vocab: FeatureVocab, year: number): number {
  if (!Number.isFinite(year)) return vocab.yearEdges.length + 1;
  let b = 0;
  while (b < vocab.yearEdges.length && vocab.yearEdges[b] <= year) b++;
  return b;
}
