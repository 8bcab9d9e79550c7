// TorchScript uploads (POST /v1/models/{name}/versions?filename=&spec=; body = the .pt file)
// (unit-tested). The server validates everything; this only catches obvious mistakes early.
import { enc } from '../api/client';

export const SPEC_TEMPLATE = JSON.stringify(
  { inputs: [{ name: 'x', shape: [-1, 4], dtype: 'float32' }], task: 'classification', classes: ['a', 'b', 'c'] },
  null,
  2,
);

// Parses and lightly checks a spec; returns the compact JSON or an error naming the field.
export function checkSpec(text: string): { spec?: string; error?: string } {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    return { error: 'The input spec is not valid JSON: ' + (e as Error).message };
  }
  if (!j || typeof j !== 'object' || Array.isArray(j)) return { error: 'The input spec must be a JSON object.' };
  const inputs = (j as { inputs?: unknown }).inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) return { error: "spec.inputs: list each input of forward(), e.g. [{\"shape\": [-1, 4]}]" };
  for (let idx = 0; idx < inputs.length; idx++) {
    const shape = (inputs[idx] as { shape?: unknown })?.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) >= -1)) {
      return { error: `spec.inputs[${idx}].shape: a list of sizes, the first may be -1 (the batch)` };
    }
  }
  const spec = JSON.stringify(j);
  if (spec.length > 60000) return { error: 'The input spec is too long (over 60 KB).' };
  return { spec };
}

export function checkTorchScriptFile(name: string): string | null {
  const lower = name.toLowerCase();
  if (lower.endsWith('.pt') || lower.endsWith('.pth') || lower.endsWith('.zip') || lower.endsWith('.torchscript')) return null;
  return `"${name}" does not look like a TorchScript archive (expected a .pt file saved with torch.jit.save)`;
}

export function modelNameFromFile(filename: string): string {
  const base = filename.replace(/\.(pt|pth|zip|torchscript)$/i, '');
  return base.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'model';
}

export function uploadPath(model: string, filename: string, spec: string): string {
  return `/v1/models/${enc(model)}/versions?filename=${enc(filename)}&spec=${enc(spec)}`;
}
