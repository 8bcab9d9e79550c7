// Foundation-model gallery (GET /v1/gallery) and pulls (POST /v1/models/{name}/pull,
// GET /v1/pulls/{id}) (unit-tested).

export interface GalleryItem {
  name: string; family?: string; repo: string | null; license?: string; gated?: boolean; description?: string;
  model_type?: string; parameters: number; context?: number;
  memory?: { assumes?: string; weights_bytes?: number; inference_bytes?: number; lora_bytes?: number; lora_trainable_params?: number; full_finetune_bytes?: number };
  pull_command?: string; pull?: { repo: string; revision: string } | null; pulled: boolean; model: string | null;
}

export interface PullStatus { id: string; state: 'running' | 'succeeded' | 'failed'; bytes_done: number; bytes_total: number; error?: string; model?: string }

// Smallest first (what runs on this machine comes first).
export function sortGallery(items: GalleryItem[]): GalleryItem[] {
  return [...items].sort((a, b) => (a.parameters ?? 0) - (b.parameters ?? 0) || a.name.localeCompare(b.name));
}

// 0..1, or null while the total is unknown.
export function pullFraction(p: PullStatus): number | null {
  if (p.state === 'succeeded') return 1;
  if (!(p.bytes_total > 0)) return null;
  return Math.min(1, Math.max(0, p.bytes_done / p.bytes_total));
}

// A model name for a pulled gallery entry: the server accepts [a-z0-9-_.].
export function pullModelName(item: GalleryItem): string {
  return item.name.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'model';
}

// Whether a memory need fits in `available` bytes (null when either is unknown).
export function fits(needBytes: number | undefined, availableBytes: number | undefined): boolean | null {
  if (!needBytes || !availableBytes) return null;
  return needBytes <= availableBytes;
}

// An LM model version's manifest (metadata of a version whose type is "lm").
export interface LmManifest {
  type: 'lm'; files: Record<string, string>; sizes?: Record<string, number>; config?: Record<string, unknown>;
  parameters?: number; tokenizer?: string; chat_template?: string; adapter?: boolean | Record<string, unknown>; source?: Record<string, unknown>;
}

export function isLmManifest(m: unknown): m is LmManifest {
  return !!m && typeof m === 'object' && (m as { type?: unknown }).type === 'lm' && typeof (m as { files?: unknown }).files === 'object';
}

// Files largest first, with their sizes and short digests.
export function lmFileRows(m: LmManifest): { name: string; size: number | undefined; sha: string }[] {
  return Object.entries(m.files ?? {})
    .map(([name, sha]) => ({ name, size: m.sizes?.[name], sha: String(sha).slice(0, 12) }))
    .sort((a, b) => (b.size ?? 0) - (a.size ?? 0) || a.name.localeCompare(b.name));
}

// The architecture fields worth showing from config.json.
export function lmConfigRows(config: Record<string, unknown> | undefined): { label: string; value: string }[] {
  if (!config) return [];
  const keys: [string, string][] = [
    ['model_type', 'Architecture'], ['hidden_size', 'Hidden size'], ['num_hidden_layers', 'Layers'], ['num_attention_heads', 'Attention heads'],
    ['num_key_value_heads', 'KV heads'], ['intermediate_size', 'MLP size'], ['vocab_size', 'Vocabulary'], ['max_position_embeddings', 'Context'],
  ];
  return keys.filter(([k]) => config[k] !== undefined && config[k] !== null).map(([k, label]) => ({ label, value: String(config[k]) }));
}
