/** The GBDT layer of the ranker: training through a native CLI, in-process scoring. */
export type { FeatureMatrix, GbdtEngine, GbdtModel } from './engine.js';
export type { FeatureRows, RankingData } from './ranking-data.js';
export { validateRankingData } from './ranking-data.js';
export { defaultGbdtParams, gbdtParamsSchema, type GbdtParams, type GbdtParamsInput } from './params.js';
export { loadGbdtModel, parseGbdtModel } from './load.js';
export { selectGbdtEngine, type SelectedEngine } from './select-engine.js';
export { trainGbdt, type GbdtTrainInfo, type GbdtTrainResult, type IterationMetrics, type TrainGbdtOptions } from './train.js';
export { predictWithCli, type CliPrediction } from './cli-predict.js';
export { GbdtScoringPool, ThreadedGbdtModel } from './scoring-pool.js';
export { writeLightgbmTsv, writeXgboostLibsvm } from './data-files.js';
