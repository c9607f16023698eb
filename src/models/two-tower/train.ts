import type { TrainingData } from '../../data/training-data.js';
import { listAccuracy } from '../../eval/metrics.js';
import { csrFromCoo, csrHas, type Csr } from '../../matrix/csr.js';
import { NegativeSampler } from '../../sampling/negative.js';
import { log } from '../../util/log.js';
import { formatCount, Progress } from '../../util/progress.js';
import { Rng } from '../../util/rng.js';
import { availableParallelism } from 'node:os';
import type { FitContext } from '../model.js';
import { DenseScorer } from '../als/scorer.js';
import { resolveThreads } from '../../wasm/pool.js';
import { adamStepSize } from './adam.js';
import { initBackend, type BackendInfo } from './backend.js';
import { buildVocab, ItemContent } from './features.js';
import { TwoTowerNet } from './net.js';
import type { TwoTowerParams } from './params.js';
import { sparseContent, TrainingStep, type BatchInputs, type StepPhases } from './step.js';
import { buildSequences, examplePositions, holdOutTails, type UserSequences } from './sequences.js';

export interface EpochRecord {
  readonly epoch: number;
  readonly loss: number;
  readonly seconds: number;
  readonly examplesPerSecond: number;
  /** Wall-clock seconds per phase of the training steps (step.ts). */
  readonly phases: StepPhases;
  /** Validation recall@val_k, when validating. */
  readonly valRecall?: number;
}

export interface TrainingSummary {
  /** The TensorFlow.js backend evaluating the towers (validation, embeddings); training runs on own kernels. */
  readonly backend: BackendInfo;
  /** Threads of the training kernels. */
  readonly threads: number;
  /** Epochs of the final fit (the best validation epoch when validating). */
  readonly epochs: number;
  readonly validation: EpochRecord[];
  readonly final: EpochRecord[];
}

export interface FittedTwoTower {
  readonly net: TwoTowerNet;
  readonly content: ItemContent;
  readonly seq: UserSequences;
  readonly summary: TrainingSummary;
}

/**
 * Fits the two-tower model. With validation (val_frac > 0) a first run trains on all but each
 * user's latest val_frac of events and scores recall@val_k on them after every epoch, stopping
 * after `patience` epochs without improvement; the final model is then trained afresh on all
 * training events for the best epoch count, so the most recent events are not lost.
 */
export async function fitTwoTower(data: TrainingData, params: TwoTowerParams, ctx: FitContext = {}): Promise<FittedTwoTower> {
  const backend = await initBackend(params.backend);
  let lastTime = -Infinity;
  for (let i = 0; i < data.train.timestamp.length; i++) lastTime = Math.max(lastTime, data.train.timestamp[i]);
  const vocab = buildVocab(data.catalog, data.tags, { tagsUntil: lastTime, tagVocab: params.tag_vocab, yearBuckets: params.year_buckets });
  const content = ItemContent.build(vocab, data.catalog, data.tags, lastTime);
  const seq = buildSequences(data);
  const threads = resolveThreads(params.threads);
  const setup: RunSetup = { data, threads, params, seq, itemContent: content.rowsFor(data.items.ids), contentWidth: content.widths.total };
  log.event('two-tower.features', { genres: vocab.genres.length, year_buckets: content.widths.year, tags: vocab.tags.length });

  let epochs = params.epochs;
  let validation: EpochRecord[] = [];
  if (params.val_frac > 0) {
    const fitEnd = holdOutTails(seq, params.val_frac);
    const held = new Validation(setup, fitEnd);
    if (held.size === 0) {
      log.warn(`two-tower: no user has a held-out event at val_frac ${params.val_frac}; training ${epochs} epochs without validation`);
    } else {
      const run = trainRun(setup, fitEnd, params.epochs, held, ctx);
      validation = run.records;
      epochs = run.bestEpoch;
      log.info(
        `two-tower: best validation recall@${params.val_k} ${run.bestRecall.toFixed(4)} at epoch ${epochs}; refitting on all training events`,
      );
    }
  }
  const final = trainRun(setup, seq.start.subarray(1), epochs, null, ctx);
  return { net: final.net, content, seq, summary: { backend, threads, epochs, validation, final: final.records } };
}

interface RunSetup {
  readonly data: TrainingData;
  readonly threads: number;
  readonly params: TwoTowerParams;
  readonly seq: UserSequences;
  /** Content row of each dense training item. */
  readonly itemContent: Float32Array;
  readonly contentWidth: number;
}

interface RunResult {
  readonly net: TwoTowerNet;
  readonly records: EpochRecord[];
  readonly bestEpoch: number;
  readonly bestRecall: number;
}

/** Trains from scratch on each user's events before fitEnd[u]; with `validation`, scores every epoch and stops early. */
function trainRun(s: RunSetup, fitEnd: Int32Array, maxEpochs: number, validation: Validation | null, ctx: FitContext): RunResult {
  const { params, seq } = s;
  const rng = new Rng(s.data.seed);
  const nItems = s.data.items.size;
  const init = TwoTowerNet.init(s.data.users.size, nItems, s.contentWidth, params.dim, params.hidden, rng);
  const step = new TrainingStep(
    init,
    sparseContent(s.itemContent, nItems, s.contentWidth),
    { batch: params.batch_size, negatives: params.negatives, history: params.history, temperature: params.temperature },
    s.threads,
  );
  try {
    const examples = examplePositions(seq, fitEnd);
    const batch = new BatchBuilder(s, examples, rng);
    const records: EpochRecord[] = [];
    const phase = validation ? 'validation run' : 'final run';
    let stepCount = 0;
    let best = { epoch: maxEpochs, recall: -1 };
    for (let epoch = 1; epoch <= maxEpochs; epoch++) {
      rng.shuffle(examples);
      const progress = new Progress(`two-tower ${phase} epoch ${epoch}`, examples.length, 'examples');
      const before = { ...step.phases };
      let fillSeconds = 0;
      let lossSum = 0;
      let counted = 0;
      // A batch of one row is skipped: its in-batch softmax has no negative.
      const rowsAt = (from: number): number => (from + 1 < examples.length ? Math.min(params.batch_size, examples.length - from) : 0);
      const t0 = performance.now();
      batch.fill(step.inputs, 0, rowsAt(0));
      fillSeconds += (performance.now() - t0) / 1000;
      for (let from = 0; rowsAt(from) > 0; from += params.batch_size) {
        const rows = rowsAt(from);
        const next = from + params.batch_size;
        const fillNext = rowsAt(next) > 0 ? (into: BatchInputs) => batch.fill(into, next, rowsAt(next)) : undefined;
        lossSum += step.run(rows, adamStepSize(params.lr, ++stepCount), fillNext) * rows;
        counted += rows;
        progress.tick(rows);
      }
      const seconds = progress.finish({ phase, epoch });
      const phases: StepPhases = {
        batch: fillSeconds + step.phases.batch - before.batch,
        forward: step.phases.forward - before.forward,
        backward: step.phases.backward - before.backward,
        optimizer: step.phases.optimizer - before.optimizer,
      };
      const record: EpochRecord = {
        epoch,
        loss: lossSum / Math.max(counted, 1),
        seconds,
        examplesPerSecond: counted / Math.max(seconds, 1e-9),
        phases,
        ...(validation ? { valRecall: validation.recall(step.net) } : {}),
      };
      records.push(record);
      const val = record.valRecall === undefined ? '' : `, validation recall@${params.val_k} ${record.valRecall.toFixed(4)}`;
      log.info(
        `two-tower ${phase} epoch ${epoch}/${maxEpochs}: loss ${record.loss.toFixed(4)}, ${formatCount(record.examplesPerSecond)} examples/s${val}`,
      );
      log.event('two-tower.epoch', { phase, threads: s.threads, ...record });
      ctx.onEpoch?.(epoch, {
        loss: record.loss,
        seconds,
        examples_per_second: record.examplesPerSecond,
        ...(validation ? { val_recall: record.valRecall } : {}),
      });
      if (record.valRecall !== undefined) {
        if (record.valRecall > best.recall) best = { epoch, recall: record.valRecall };
        else if (epoch - best.epoch >= params.patience) break;
      }
    }
    return { net: step.snapshot(), records, bestEpoch: best.epoch, bestRecall: best.recall };
  } finally {
    step.close();
  }
}

/** Fills a step's batch inputs from a batch of example positions. */
class BatchBuilder {
  private readonly logExpected: Float64Array;
  private readonly sampler: NegativeSampler | null;
  private readonly negatives: Int32Array;
  private readonly negLogExpected: Float64Array;
  private readonly noPositives = new Int32Array(0);

  constructor(
    private readonly s: RunSetup,
    private readonly examples: Int32Array,
    private readonly rng: Rng,
  ) {
    const { batch_size: B, negatives: M } = s.params;
    this.negatives = new Int32Array(M);
    // logQ: log of the expected number of times an item appears among a batch's positives.
    const counts = new Float64Array(s.data.items.size);
    for (let i = 0; i < examples.length; i++) counts[s.seq.items[examples[i]]]++;
    this.logExpected = counts.map((c) => Math.log((B * Math.max(c, 1)) / examples.length));
    this.sampler = M > 0 ? new NegativeSampler(counts, { distribution: s.params.negative_sampling, seed: s.data.seed + 1 }) : null;
    this.negLogExpected = this.sampler
      ? counts.map((_, j) => Math.log(M * Math.max(this.sampler!.probability(j), 1e-30)))
      : new Float64Array(0);
  }

  /**
   * Rows 0 .. B−1: the examples from `from` on (user, history, positive item); item rows
   * B .. B+M−1: the extra negatives. Ids are hidden (-1) with probability id_dropout.
   */
  fill(into: BatchInputs, from: number, B: number): void {
    const { seq, params } = this.s;
    const L = params.history;
    const M = this.negatives.length;
    const { users, history, historyCount, itemIds, itemOf, colBias } = into;
    const drop = params.id_dropout;
    const q = params.logq;
    for (let b = 0; b < B; b++) {
      const p = this.examples[from + b];
      const u = seq.user[p];
      const item = seq.items[p];
      users[b] = this.rng.next() < drop ? -1 : u;
      itemOf[b] = item;
      itemIds[b] = this.rng.next() < drop ? -1 : item;
      colBias[b] = -q * this.logExpected[item];
      // The last L events before p, most recent last, -1 padded at the front.
      const first = Math.max(seq.start[u], p - L);
      const pad = L - (p - first);
      history.fill(-1, b * L, b * L + pad);
      history.set(seq.items.subarray(first, p), b * L + pad);
      historyCount[b] = p - first;
    }
    if (this.sampler) {
      this.sampler.sample(this.noPositives, M, this.negatives);
      for (let j = 0; j < M; j++) {
        const item = this.negatives[j];
        itemOf[B + j] = item;
        itemIds[B + j] = this.rng.next() < drop ? -1 : item;
        colBias[B + j] = -q * this.negLogExpected[item];
      }
    }
  }
}

/**
 * Recall@val_k on the held-out tails of a fixed, seeded sample of users: each user's vector
 * comes from the events before the tail; candidates are all training items minus those events;
 * relevant items are the tail's items not among them (users with none are left out).
 */
class Validation {
  private readonly users: Int32Array;
  private readonly history: Int32Array;
  private readonly seen: Csr;
  private readonly relevant: Csr;

  constructor(
    private readonly s: RunSetup,
    fitEnd: Int32Array,
  ) {
    const { seq, params } = s;
    const L = params.history;
    const eligible: number[] = [];
    for (let u = 0; u < seq.nUsers; u++) if (fitEnd[u] > seq.start[u] && fitEnd[u] < seq.start[u + 1]) eligible.push(u);
    const sampled = new Rng(s.data.seed + 2).shuffle(Int32Array.from(eligible));
    const pick = sampled.subarray(0, Math.min(params.val_users, sampled.length)).sort();
    const nItems = s.data.items.size;
    const rowsOf = (part: 'fit' | 'tail'): Csr => {
      const rows: number[] = [];
      const cols: number[] = [];
      pick.forEach((u, i) => {
        const [from, to] = part === 'fit' ? [seq.start[u], fitEnd[u]] : [fitEnd[u], seq.start[u + 1]];
        for (let p = from; p < to; p++) {
          rows.push(i);
          cols.push(seq.items[p]);
        }
      });
      return csrFromCoo(pick.length, nItems, Int32Array.from(rows), Int32Array.from(cols), null);
    };
    const seen = rowsOf('fit');
    const tail = rowsOf('tail');
    const keep: number[] = [];
    const relRows: number[] = [];
    const relCols: number[] = [];
    for (let i = 0; i < pick.length; i++) {
      let any = false;
      for (let q = tail.indptr[i]; q < tail.indptr[i + 1]; q++) {
        if (csrHas(seen, i, tail.indices[q])) continue;
        relRows.push(keep.length);
        relCols.push(tail.indices[q]);
        any = true;
      }
      if (any) keep.push(i);
    }
    this.users = Int32Array.from(keep, (i) => pick[i]);
    this.relevant = csrFromCoo(keep.length, nItems, Int32Array.from(relRows), Int32Array.from(relCols), null);
    const seenRows: number[] = [];
    const seenCols: number[] = [];
    keep.forEach((i, r) => {
      for (let q = seen.indptr[i]; q < seen.indptr[i + 1]; q++) {
        seenRows.push(r);
        seenCols.push(seen.indices[q]);
      }
    });
    this.seen = csrFromCoo(keep.length, nItems, Int32Array.from(seenRows), Int32Array.from(seenCols), null);
    this.history = new Int32Array(this.users.length * L).fill(-1);
    this.users.forEach((u, r) => {
      const first = Math.max(seq.start[u], fitEnd[u] - L);
      this.history.set(seq.items.subarray(first, fitEnd[u]), r * L + L - (fitEnd[u] - first));
    });
  }

  /** Users scored. */
  get size(): number {
    return this.users.length;
  }

  recall(net: TwoTowerNet): number {
    const n = this.users.length;
    if (n === 0) return 0;
    const { params, data, itemContent } = this.s;
    const K = params.val_k;
    const nItems = data.items.size;
    const items = net.embedItems(
      Int32Array.from({ length: nItems }, (_, i) => i),
      itemContent,
    );
    const scorer = new DenseScorer(items, nItems, net.dim, availableParallelism());
    const top = scorer.topK(
      net.embedUsers(this.users, this.history, params.history),
      Int32Array.from({ length: n }, (_, i) => i),
      K,
      this.seen,
    );
    scorer.close();
    const hits = new Uint8Array(K);
    let sum = 0;
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < K; j++) {
        const item = top.items[r * K + j];
        hits[j] = item >= 0 && csrHas(this.relevant, r, item) ? 1 : 0;
      }
      sum += listAccuracy(hits, K, this.relevant.indptr[r + 1] - this.relevant.indptr[r]).recall;
    }
    return sum / n;
  }
}
