import { describe, expect, it } from 'vitest';
import { SseParser, chatDelta, chatRequest, completionRequest } from '../../src/lib/sse';

describe('SSE parsing', () => {
  it('splits events across arbitrary chunk boundaries', () => {
    const p = new SseParser();
    expect(p.push('data: {"a"')).toEqual([]);
    expect(p.push(':1}\n\ndata: x\r\n\r\ndata: [DO')).toEqual(['{"a":1}', 'x']);
    expect(p.push('NE]\n\n')).toEqual(['[DONE]']);
    expect(p.push(': comment\n\n')).toEqual([]);
    expect(p.push('data: line1\ndata: line2\n\n')).toEqual(['line1\nline2']);
  });
  it('reads chat and completion deltas, usage, DONE and errors', () => {
    expect(chatDelta('{"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}')).toEqual({ text: 'Hel', done: false });
    expect(chatDelta('{"choices":[{"text":"lo","finish_reason":"length"}]}')).toEqual({ text: 'lo', done: false, finishReason: 'length' });
    expect(chatDelta('{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5}}').usage).toEqual({ prompt_tokens: 3, completion_tokens: 5 });
    expect(chatDelta('[DONE]')).toEqual({ text: '', done: true });
    expect(chatDelta('{"error":{"message":"overloaded"}}')).toEqual({ text: '', done: true, error: 'overloaded' });
    expect(chatDelta('nope').error).toMatch(/malformed/);
  });
  it('builds a streaming chat request without an empty system prompt', () => {
    const r = chatRequest([{ role: 'system', content: ' ' }, { role: 'user', content: 'hi' }], { maxTokens: 32, temperature: 0.7 });
    expect(r).toEqual({ messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true }, max_tokens: 32, temperature: 0.7 });
    expect(completionRequest('Once', { maxTokens: 8, temperature: 0 })).toEqual({ prompt: 'Once', stream: true, stream_options: { include_usage: true }, max_tokens: 8, temperature: 0 });
  });
});

import { checkSpec, checkTorchScriptFile, modelNameFromFile, uploadPath } from '../../src/lib/torchscript';

describe('TorchScript upload', () => {
  it('checks the input spec', () => {
    expect(checkSpec('{"inputs":[{"shape":[-1,4]}]}')).toEqual({ spec: '{"inputs":[{"shape":[-1,4]}]}' });
    expect(checkSpec('{').error).toMatch(/not valid JSON/);
    expect(checkSpec('[]').error).toMatch(/object/);
    expect(checkSpec('{"inputs":[]}').error).toMatch(/spec.inputs/);
    expect(checkSpec('{"inputs":[{"shape":[-1,"a"]}]}').error).toMatch(/inputs\[0\].shape/);
  });
  it('checks the file and derives names and the URL', () => {
    expect(checkTorchScriptFile('net.pt')).toBeNull();
    expect(checkTorchScriptFile('net.csv')).toMatch(/TorchScript/);
    expect(modelNameFromFile('My Net.v2.pt')).toBe('my-net-v2');
    expect(uploadPath('net', 'net.pt', '{"inputs":[]}')).toBe('/v1/models/net/versions?filename=net.pt&spec=%7B%22inputs%22%3A%5B%5D%7D');
  });
});

import { fits, pullFraction, pullModelName, sortGallery } from '../../src/lib/gallery';

describe('gallery', () => {
  const item = (name: string, parameters: number) => ({ name, parameters, repo: null, pulled: false, model: null });
  it('sorts smallest first and names pulled models', () => {
    expect(sortGallery([item('b', 7e9), item('a', 1e6), item('c', 1e6)]).map((x) => x.name)).toEqual(['a', 'c', 'b']);
    expect(pullModelName(item('TinyLlama-1.1B-Chat', 1))).toBe('tinyllama-1.1b-chat');
  });
  it('computes pull progress and memory fit', () => {
    expect(pullFraction({ id: '1', state: 'running', bytes_done: 5, bytes_total: 10 })).toBe(0.5);
    expect(pullFraction({ id: '1', state: 'running', bytes_done: 5, bytes_total: 0 })).toBeNull();
    expect(pullFraction({ id: '1', state: 'succeeded', bytes_done: 0, bytes_total: 0 })).toBe(1);
    expect(fits(10, 20)).toBe(true);
    expect(fits(30, 20)).toBe(false);
    expect(fits(undefined, 20)).toBeNull();
  });
});

import { isLmManifest, lmConfigRows, lmFileRows } from '../../src/lib/gallery';

describe('LM versions', () => {
  it('recognises a manifest and lists files largest first', () => {
    const m = { type: 'lm', files: { 'config.json': 'aaaaaaaaaaaaaaaa', 'model.safetensors': 'bbbbbbbbbbbbbbbbbb' }, sizes: { 'config.json': 500, 'model.safetensors': 4000000 }, config: { model_type: 'llama', hidden_size: 128, num_hidden_layers: 4 } };
    expect(isLmManifest(m)).toBe(true);
    expect(isLmManifest({ input: {} })).toBe(false);
    expect(lmFileRows(m as never)).toEqual([
      { name: 'model.safetensors', size: 4000000, sha: 'bbbbbbbbbbbb' },
      { name: 'config.json', size: 500, sha: 'aaaaaaaaaaaa' },
    ]);
    expect(lmConfigRows(m.config)).toEqual([
      { label: 'Architecture', value: 'llama' },
      { label: 'Hidden size', value: '128' },
      { label: 'Layers', value: '4' },
    ]);
  });
});

import { checkLmForm, defaultLmForm, lmJobRequest } from '../../src/lib/lmjob';

describe('LM fine-tune form', () => {
  const form = { ...defaultLmForm(), baseModel: 'sskai-demo', dataset: 'chat' };
  it('builds a LoRA job request', () => {
    expect(checkLmForm(form)).toBeNull();
    expect(lmJobRequest({ ...form, baseVersion: 2, output: ' mine ' })).toEqual({
      kind: 'lm', base_model: 'sskai-demo:2', dataset: 'chat', model: 'mine',
      hyperparameters: { method: 'lora', max_steps: 30, learning_rate: 0.001, batch_size: 4, max_seq_len: 128, lora: { rank: 8, alpha: 16, dropout: 0.05, target_modules: ['q_proj', 'v_proj'] } },
    });
    const full = lmJobRequest({ ...form, method: 'full' });
    expect((full.hyperparameters as Record<string, unknown>).lora).toBeUndefined();
    expect(full.model).toBeUndefined();
    expect((lmJobRequest({ ...form, chatTemplate: 'chatml' }).hyperparameters as Record<string, unknown>).chat_template).toBe('chatml');
  });
  it('names the first bad field', () => {
    expect(checkLmForm({ ...form, baseModel: '' })).toMatch(/base model/);
    expect(checkLmForm({ ...form, dataset: '' })).toMatch(/JSONL/);
    expect(checkLmForm({ ...form, rank: 0 })).toMatch(/rank/);
    expect(checkLmForm({ ...form, targets: [] })).toMatch(/target/);
    expect(checkLmForm({ ...form, method: 'full', targets: [] })).toBeNull();
    expect(checkLmForm({ ...form, steps: 1.5 })).toMatch(/Steps/);
  });
});

import { lmPlanRequest } from '../../src/lib/lmjob';

describe('LM fine-tune planner advice', () => {
  const config = { model_type: 'llama', hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 300 };
  const form = { ...defaultLmForm(), baseModel: 'sskai-demo', dataset: 'chat', steps: 30, batchSize: 4, maxSeqLen: 128, rank: 8 };
  it('asks for a train plan with the base config, tokens and the LoRA rank', () => {
    expect(lmPlanRequest(form, config)).toEqual({
      kind: 'train',
      lm: { config, tokens: 30 * 4 * 128, seq_len: 128, micro_batch: 4, precision: 'bf16', lora_rank: 8 },
      deadline_hours: 24,
    });
  });
  it('plans a full fine-tune with LoRA rank 0', () => {
    expect((lmPlanRequest({ ...form, method: 'full' }, config, 6) as { lm: { lora_rank: number } }).lm.lora_rank).toBe(0);
    expect(lmPlanRequest({ ...form, method: 'full' }, config, 6)?.deadline_hours).toBe(6);
  });
  it('waits for a base config and a complete form', () => {
    expect(lmPlanRequest(form, undefined)).toBeNull();
    expect(lmPlanRequest(form, [1, 2])).toBeNull();
    expect(lmPlanRequest({ ...form, steps: 0 }, config)).toBeNull();
    expect(lmPlanRequest({ ...form, batchSize: 1.5 }, config)).toBeNull();
    expect(lmPlanRequest({ ...form, maxSeqLen: 1 }, config)).toBeNull();
  });
  it('carries the chosen plan into the job', () => {
    expect(lmJobRequest(form, 12).plan_id).toBe(12);
    expect('plan_id' in lmJobRequest(form)).toBe(false);
  });
});
