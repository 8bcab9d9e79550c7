// The LM fine-tuning form → POST /v1/jobs {kind:"lm", ...} (unit-tested). Field names follow
// lmdata::ParseLmJobSpec: base_model "name[:version]", hyperparameters {method, lora{...}, ...}.

export const LORA_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

export interface LmForm {
  baseModel: string; baseVersion: number | null; dataset: string; output: string;
  method: 'lora' | 'full'; rank: number; alpha: number; dropout: number; targets: string[];
  steps: number; learningRate: number; batchSize: number; maxSeqLen: number;
  chatTemplate: 'auto' | 'chatml' | 'llama3' | 'none';
}

export function defaultLmForm(): LmForm {
  return { baseModel: '', baseVersion: null, dataset: '', output: '', method: 'lora', rank: 8, alpha: 16, dropout: 0.05, targets: ['q_proj', 'v_proj'], steps: 30, learningRate: 0.001, batchSize: 4, maxSeqLen: 128, chatTemplate: 'auto' };
}

// The first problem with the form, naming the field; null when it can be sent.
export function checkLmForm(f: LmForm): string | null {
  if (!f.baseModel) return 'Choose the base model to fine-tune.';
  if (!f.dataset) return 'Choose a JSONL dataset.';
  if (f.method === 'lora') {
    if (!(Number.isInteger(f.rank) && f.rank >= 1 && f.rank <= 1024)) return 'LoRA rank: a whole number from 1 to 1024.';
    if (!(f.alpha > 0)) return 'LoRA alpha must be more than 0.';
    if (!(f.dropout >= 0 && f.dropout <= 0.9)) return 'LoRA dropout: between 0 and 0.9.';
    if (!f.targets.length) return 'LoRA: pick at least one target module.';
  }
  if (!(Number.isInteger(f.steps) && f.steps >= 1)) return 'Steps: a whole number of at least 1.';
  if (!(f.learningRate > 0 && f.learningRate <= 10)) return 'Learning rate: more than 0.';
  if (!(Number.isInteger(f.batchSize) && f.batchSize >= 1)) return 'Batch size: a whole number of at least 1.';
  if (!(Number.isInteger(f.maxSeqLen) && f.maxSeqLen >= 2)) return 'Max sequence length: at least 2 tokens.';
  return null;
}

// Planner advice for a fine-tune (POST /v1/plans {kind:"train", lm:{...}}, see docs/planner.md):
// the base model's config.json (its version manifest's "config"), tokens = steps x batch x
// sequence length, micro batch = batch, and the LoRA rank (0 = full fine-tune). null while the
// form lacks what the planner needs.
export function lmPlanRequest(f: LmForm, config: unknown, deadlineHours = 24): Record<string, unknown> | null {
  if (!config || typeof config !== 'object' || Array.isArray(config)) return null;
  if (!(Number.isInteger(f.steps) && f.steps >= 1 && Number.isInteger(f.batchSize) && f.batchSize >= 1)) return null;
  if (!(Number.isInteger(f.maxSeqLen) && f.maxSeqLen >= 2)) return null;
  const lora = f.method === 'lora' && Number.isInteger(f.rank) && f.rank >= 1;
  return {
    kind: 'train',
    lm: { config, tokens: f.steps * f.batchSize * f.maxSeqLen, seq_len: f.maxSeqLen, micro_batch: f.batchSize, precision: 'bf16', lora_rank: lora ? f.rank : 0 },
    deadline_hours: deadlineHours,
  };
}

export function lmJobRequest(f: LmForm, planId?: number): Record<string, unknown> {
  const hyper: Record<string, unknown> = {
    method: f.method,
    max_steps: f.steps,
    learning_rate: f.learningRate,
    batch_size: f.batchSize,
    max_seq_len: f.maxSeqLen,
  };
  if (f.chatTemplate !== 'auto') hyper.chat_template = f.chatTemplate;
  if (f.method === 'lora') hyper.lora = { rank: f.rank, alpha: f.alpha, dropout: f.dropout, target_modules: f.targets };
  const body: Record<string, unknown> = {
    kind: 'lm',
    base_model: f.baseVersion ? `${f.baseModel}:${f.baseVersion}` : f.baseModel,
    dataset: f.dataset,
    hyperparameters: hyper,
  };
  if (f.output.trim()) body.model = f.output.trim();
  if (planId) body.plan_id = planId;
  return body;
}

// LM job metrics are per optimizer step; the x axis reads "step" instead of "epoch".
export function isLmJob(job: { kind?: string }): boolean {
  return job.kind === 'lm';
}
