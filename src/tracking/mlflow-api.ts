import type { LogBatchBody, TagJson } from './entities.js';
import { MlflowApiError, type MlflowHttpClient } from './http-client.js';

/**
 * The MLflow REST API 2.0 endpoints the tracker uses, with the request and response fields the
 * documentation gives (experiments/get-by-name, experiments/create, runs/create,
 * runs/log-batch, runs/update).
 */

export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

export interface ExperimentJson {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage?: string;
  last_update_time?: number;
  creation_time?: number;
  tags?: TagJson[];
}

export interface RunInfoJson {
  run_id: string;
  run_uuid?: string;
  run_name?: string;
  experiment_id: string;
  user_id?: string;
  status: RunStatus;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
  lifecycle_stage?: string;
}

/** runs/create without `experiment_id`, which is resolved from the experiment name. */
export interface CreateRunBody {
  run_name: string;
  start_time: number;
  user_id?: string;
  tags: TagJson[];
}

export interface UpdateRunBody {
  status: RunStatus;
  end_time: number;
}

export async function getExperimentByName(client: MlflowHttpClient, name: string): Promise<ExperimentJson | null> {
  try {
    const res = await client.get<{ experiment: ExperimentJson }>('experiments/get-by-name', { experiment_name: name });
    return res.experiment;
  } catch (err) {
    if (err instanceof MlflowApiError && err.errorCode === 'RESOURCE_DOES_NOT_EXIST') return null;
    throw err;
  }
}

export async function createExperiment(client: MlflowHttpClient, name: string): Promise<string> {
  const res = await client.post<{ experiment_id: string }>('experiments/create', { name });
  return res.experiment_id;
}

/**
 * The id of the experiment called `name`, created if absent. Another process may create it
 * between our lookup and our create (RESOURCE_ALREADY_EXISTS): then it is looked up again.
 */
export async function ensureExperiment(client: MlflowHttpClient, name: string): Promise<string> {
  const found = await getExperimentByName(client, name);
  if (found) return found.experiment_id;
  try {
    return await createExperiment(client, name);
  } catch (err) {
    if (!(err instanceof MlflowApiError && err.errorCode === 'RESOURCE_ALREADY_EXISTS')) throw err;
    const again = await getExperimentByName(client, name);
    if (!again) throw err;
    return again.experiment_id;
  }
}

/** Experiment ids by name for one client, each looked up (or created) once. */
export class ExperimentIds {
  private readonly ids = new Map<string, string>();

  constructor(private readonly client: MlflowHttpClient) {}

  async get(name: string): Promise<string> {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = await ensureExperiment(this.client, name);
      this.ids.set(name, id);
    }
    return id;
  }
}

export async function createRun(client: MlflowHttpClient, experimentId: string, body: CreateRunBody): Promise<RunInfoJson> {
  const res = await client.post<{ run: { info: RunInfoJson } }>('runs/create', { experiment_id: experimentId, ...body });
  return res.run.info;
}

export async function logBatch(client: MlflowHttpClient, runId: string, batch: LogBatchBody): Promise<void> {
  await client.post('runs/log-batch', { run_id: runId, ...batch });
}

export async function updateRun(client: MlflowHttpClient, runId: string, body: UpdateRunBody): Promise<RunInfoJson> {
  const res = await client.post<{ run_info: RunInfoJson }>('runs/update', { run_id: runId, ...body });
  return res.run_info;
}
