import { copyFileSync, linkSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  ARTIFACT_FOLDER_OUTPUT,
  createArtifact,
  MANIFEST_FILE,
  METRICS_FILE,
  RUN_LOG_FILE,
  resolveArtifactDir,
  type ArtifactManifest,
} from '../artifacts/store.js';
import { openArtifact } from '../artifacts/verify.js';
import { writeNpy } from '../artifacts/npy.js';
import type { Metric } from '../index/ann-index.js';
import { INDEX_FILE, INDEX_IDS_FILE } from '../index/artifact-index.js';
import { buildIndex, DEFAULT_INDEX_SEED, type BuildStats } from '../index/build.js';
import { parseFactory } from '../index/factory.js';
import { writeIndex } from '../index/io.js';
import { measureIndex, type IndexMeasurement } from '../index/measure.js';
import { vectorsForIndex, wantsMipsTransform } from '../index/mips.js';
import { sampleRows } from '../index/vectors.js';
import { hasEmbeddings, type Recommender } from '../models/model.js';
import { getFactory } from './model-registry.js';
import { InputError } from '../util/errors.js';
import { log } from '../util/log.js';
import { claimOutput } from '../util/output.js';
import { Rng } from '../util/rng.js';

export interface IndexRequest {
  /** The model artifact whose item embeddings are indexed, e.g. artifacts/als/latest. */
  readonly model: string;
  readonly factory: string;
  readonly metric?: Metric;
  readonly nprobe?: number;
  readonly efSearch?: number;
  /** MIPS → L2 transform (src/index/mips.ts): auto = for IVF factories under inner product. */
  readonly mipsTransform?: 'auto' | 'on' | 'off';
  /** Artifact directory of the result; default: a new version of the model's own artifact. */
  readonly out?: string;
  readonly seed?: number;
  /** User vectors sampled to measure recall@10 and query rates. */
  readonly sampleQueries?: number;
  /** Details the caller adds to the manifest (the pipeline runner does), over the model's. */
  readonly details?: Record<string, unknown>;
  /** Runs on the complete new version before `latest` moves to it (the pipeline evaluates the serving stage there). */
  readonly finish?: (dir: string, report: IndexReport) => Promise<void>;
}

export interface IndexReport {
  readonly build: BuildStats;
  readonly bytes: number;
  readonly measurement: IndexMeasurement;
}

/** A model artifact, checked against its manifest (artifacts/verify.ts) and loaded. */
export async function loadModelArtifact(path: string): Promise<{ dir: string; manifest: ArtifactManifest; model: Recommender }> {
  const { dir, manifest } = await openArtifact(path);
  return { dir, manifest, model: await getFactory(manifest.kind).load(dir) };
}

/** The artifact folder an index version goes to: `out`, or the model's own folder. */
export function indexOutput(req: Pick<IndexRequest, 'model' | 'out'>): string {
  return req.out ?? dirname(resolveArtifactDir(req.model));
}

/** Hard-links (or copies, across file systems) a version's files into a new version being built. */
function linkFiles(from: string, to: string, skip: Set<string>): void {
  for (const name of readdirSync(from)) {
    if (skip.has(name) || statSync(join(from, name)).isDirectory()) continue;
    try {
      linkSync(join(from, name), join(to, name));
    } catch {
      copyFileSync(join(from, name), join(to, name));
    }
  }
}

/**
 * `recsys index`: builds a FAISS index over a model's item embeddings and writes it, with the
 * row → raw item id map, into a new version of the model's artifact (the model files are
 * linked, not copied), so `latest` holds model and index together. Recall@10 against exact
 * inner-product search and query rates are measured on a sample of the model's user vectors
 * and recorded in the manifest.
 */
export async function indexModel(req: IndexRequest): Promise<{ dir: string; report: IndexReport }> {
  // Before loading anything: a factory FAISS cannot parse may crash the process.
  parseFactory(req.factory);
  const out = indexOutput(req);
  claimOutput(out, ARTIFACT_FOLDER_OUTPUT);
  const { dir: modelDir, manifest, model } = await loadModelArtifact(req.model);
  if (!hasEmbeddings(model)) throw new InputError(`${modelDir}: a ${manifest.kind} model has no item embeddings to index`);
  const items = model.itemEmbeddings();
  const seed = req.seed ?? DEFAULT_INDEX_SEED;
  const metric = req.metric ?? 'ip';
  if (metric === 'l2')
    log.warn(
      `metric l2: ${modelDir} is a ${manifest.kind} model, which scores items by inner product; an L2 index ranks them by distance instead, ` +
        'so it will not return the top items of the model (use metric ip)',
    );
  const vectors = vectorsForIndex(items, metric, wantsMipsTransform(req.factory, items.dim, metric, req.mipsTransform ?? 'auto'));
  const { index, stats } = buildIndex(vectors.items, {
    factory: req.factory,
    metric: vectors.metric,
    nprobe: req.nprobe,
    efSearch: req.efSearch,
    seed,
  });
  const sample = sampleRows(model.userEmbeddings(), req.sampleQueries ?? 1000, new Rng(seed));
  // Exact inner product over the augmented items equals it over the originals (queries end in 0).
  const measurement = measureIndex(index, vectors.items, vectors.prepareQueries(sample), 10);
  log.info(
    `index ${req.factory}: ${stats.rows} × ${stats.dim} in ${stats.seconds.total.toFixed(2)} s, recall@10 ${measurement.recall.toFixed(4)}, ` +
      `${measurement.index.batchedQps.toFixed(0)} queries/s batched (exact: ${measurement.exact.batchedQps.toFixed(0)})`,
  );
  const finish = req.finish;
  let bytes = 0;
  const created = await createArtifact(
    dirname(out),
    basename(out),
    {
      kind: manifest.kind,
      config: {
        ...manifest.config,
        index: {
          factory: req.factory,
          metric,
          index_metric: stats.metric,
          nprobe: req.nprobe,
          efSearch: req.efSearch,
          // Serving: append a 0 to each query vector before searching (docs/artifacts.md).
          transform: vectors.transform,
        },
      },
      seed: manifest.seed,
      dataset: manifest.dataset,
      split: manifest.split,
      lineage: [{ name: manifest.name, version: manifest.version }],
      metrics: manifest.metrics,
      details: { ...manifest.details, ...req.details, index: { ...stats, measurement } },
    },
    async (tmp) => {
      // The model's files only: its log and bookkeeping are the model step's, not this version's.
      linkFiles(modelDir, tmp, new Set([MANIFEST_FILE, METRICS_FILE, RUN_LOG_FILE, INDEX_FILE, INDEX_IDS_FILE]));
      bytes = writeIndex(index, join(tmp, INDEX_FILE));
      writeNpy(join(tmp, INDEX_IDS_FILE), model.items.ids);
    },
    { finish: finish && ((tmp) => finish(tmp, { build: stats, bytes, measurement })) },
  );
  return { dir: created.dir, report: { build: stats, bytes, measurement } };
}
