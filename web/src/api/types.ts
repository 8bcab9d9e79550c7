// JSON shapes of the /v1 API (see src/api/views.cc on the server).
export interface List<T> { items: T[]; next_after: number | null }
export interface User { id: number; name: string; admin: boolean; created_at: number }
export interface Column { name: string; type: string; missing?: number }
export interface Dataset { id: number; name: string; latest_version: number; description: string; created_at: number }
export interface DatasetVersion {
  dataset: string; version: number; format: string; sha256: string; size_bytes: number; rows: number;
  filename: string; schema: { columns?: Column[]; task?: string; target?: string; [k: string]: unknown }; created_at: number;
}
// visibility "public": every user may read, fine-tune and deploy it; only its owner (or an admin) changes it.
export interface Model { id: number; name: string; latest_version: number; created_at: number; owner_id?: number; visibility?: 'private' | 'public' }
export interface ModelVersion {
  model: string; version: number; kind: string; task: string; sha256: string; size_bytes: number;
  metrics: Record<string, number>;
  metadata: { input?: { kind?: string; features?: number; columns?: string[] }; classes?: string[]; [k: string]: unknown };
  lineage: { dataset?: { name: string; version: number }; job_id?: number };
  created_at: number;
}
export interface Job {
  id: number; name: string; kind: string; state: string; reason: string;
  spec: { task?: string; target?: string; model?: string; hyperparameters?: Record<string, unknown> };
  output_model: string; executor: string; attempts: number;
  progress: { epoch?: number; epochs?: number; values?: Record<string, number>; updated_at?: number };
  dataset?: { name: string; version: number; format: string };
  checkpoint?: { epoch: number; step: number; available: boolean; previous_available?: boolean };
  preemptions?: number; retries?: number;
  tags?: Record<string, string>;
  model_version?: { name: string; version: number };
  created_at: number; started_at: number; finished_at: number;
}
export interface JobMetric { step: number; values: Record<string, number>; created_at: number }
export interface Endpoint {
  id: number; name: string; state: string; reason: string; restarts: number; url: string;
  model?: { name: string; version: number; task: string };
  replicas: { pid?: number; port?: number; ready?: boolean }[];
  mode?: string;
  created_at: number; updated_at: number;
}
export interface Event { id: number; kind: string; subject_id: number; action: string; message: string; created_at: number }
export interface CostGroup { key: string; cost_usd: number; ondemand_usd: number; savings_usd: number; compute_seconds: number; entries: number }
export interface CostReport {
  from: number | string; to: number | string; currency: string; total_usd: number; ondemand_usd: number;
  savings_usd: number; unpriced_seconds: number; groups: CostGroup[];
}
