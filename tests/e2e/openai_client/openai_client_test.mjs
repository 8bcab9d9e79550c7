// The stock OpenAI Node client (npm "openai", pinned in package-lock.json) against an sskai LM
// endpoint: a real `sskai server` (temp data dir, ephemeral port), a tiny Llama-shaped model
// pretrained by `sskai lm pretrain` and registered with `sskai models import`, deployed as an
// endpoint; the client's baseURL is the endpoint's /v1 and its apiKey the sskai token.
// Checks models.list, chat.completions.create (plain and stream: true with usage) and
// completions.create (plain and streamed). Run by ctest (e2e_openai_client_test) with
// SSKAI_BINARY set; exits non-zero on the first failed check.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const BINARY = process.env.SSKAI_BINARY;
if (!BINARY) {
  console.error('SSKAI_BINARY is not set');
  process.exit(2);
}
const work = mkdtempSync(path.join(tmpdir(), 'sskai-openai-'));
let server;

function log(msg) {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

function run(args) {
  const r = spawnSync(BINARY, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sskai ${args.join(' ')} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}

// A tiny model with its own sentencepiece tokenizer and the ChatML template (a few seconds).
function pretrainTinyModel() {
  const corpus = path.join(work, 'corpus.txt');
  const lines = ['The cat sat on the mat.', 'A dog barked at the moon.', 'Birds sing in the morning.',
                 'Fish swim in the deep blue sea.', 'The sun rises in the east.'];
  writeFileSync(corpus, Array(8).fill(lines.map((l) => l + '\n\n').join('')).join(''));
  const out = path.join(work, 'tiny');
  const spec = { config: { hidden_size: 64, layers: 2, heads: 4, vocab_size: 300, max_position_embeddings: 256 },
                 hyperparameters: { max_steps: 4, batch_size: 4, max_seq_len: 64, threads: 1, eval_split: 0 } };
  run(['lm', 'pretrain', '--corpus', corpus, '--out', out, '--spec', JSON.stringify(spec)]);
  return out;
}

async function startServer() {
  const dataDir = path.join(work, 'data');
  server = spawn(BINARY, ['server', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--demo-model', 'none', '--log-level', 'warn'],
                 { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  server.stderr.on('data', (d) => (stderr += d));
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('server did not start in 30 s: ' + stderr)), 30000);
    server.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[0-9.:]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    server.on('exit', (code) => reject(new Error(`server exited (${code}): ${stderr}`)));
  });
  return { url, token: readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim() };
}

async function api(base, token, method, p, body) {
  const r = await fetch(base + p, {
    method,
    headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, body: await r.json().catch(() => null) };
}

async function waitReady(base, token, name) {
  for (let tries = 0; tries < 1200; ++tries) {
    const ep = await api(base, token, 'GET', '/v1/endpoints/' + name);
    if (ep.body?.state === 'ready') return;
    if (ep.body?.state === 'failed') throw new Error('endpoint failed: ' + JSON.stringify(ep.body));
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('endpoint not ready in 120 s');
}

async function main() {
  const modelDir = pretrainTinyModel();
  const { url, token } = await startServer();
  log(`server at ${url}`);
  run(['models', 'import', modelDir, '--name', 'tiny', '--server', url, '--token', token]);
  const created = await api(url, token, 'POST', '/v1/endpoints', { name: 'tiny-chat', model: 'tiny', min_replicas: 1 });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await waitReady(url, token, 'tiny-chat');
  log('endpoint ready');

  const client = new OpenAI({ baseURL: `${url}/v1/endpoints/tiny-chat/v1`, apiKey: token, maxRetries: 0 });

  const models = [];
  for await (const m of client.models.list()) models.push(m);
  assert.ok(models.length >= 1, 'models.list is empty');
  const model = models[0].id;
  assert.equal(models[0].object, 'model');
  log(`models.list: ${models.map((m) => m.id).join(', ')}`);

  const messages = [{ role: 'user', content: 'Where does the sun rise?' }];
  const chat = await client.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0, seed: 1 });
  assert.equal(chat.object, 'chat.completion');
  assert.equal(chat.choices.length, 1);
  assert.equal(chat.choices[0].message.role, 'assistant');
  assert.equal(typeof chat.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(chat.choices[0].finish_reason), chat.choices[0].finish_reason);
  assert.ok(chat.usage.prompt_tokens > 0, JSON.stringify(chat.usage));
  assert.ok(chat.usage.completion_tokens > 0 && chat.usage.completion_tokens <= 8, JSON.stringify(chat.usage));
  assert.equal(chat.usage.total_tokens, chat.usage.prompt_tokens + chat.usage.completion_tokens);
  log(`chat: ${JSON.stringify(chat.choices[0].message.content)} usage ${JSON.stringify(chat.usage)}`);

  // Streamed with the same seed: the chunks concatenate to the same text; usage comes last.
  const stream = await client.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0, seed: 1,
                                                        stream: true, stream_options: { include_usage: true } });
  let text = '', chunks = 0, usage = null, finish = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta?.content ?? '';
      finish = c.finish_reason ?? finish;
    }
    ++chunks;
  }
  assert.ok(chunks >= 2, `only ${chunks} chunks`);
  assert.equal(text, chat.choices[0].message.content);
  assert.ok(['stop', 'length'].includes(finish), String(finish));
  assert.ok(usage, 'no usage chunk with stream_options.include_usage');
  assert.deepEqual(usage, chat.usage);
  log(`chat stream: ${chunks} chunks, usage ${JSON.stringify(usage)}`);

  const completion = await client.completions.create({ model, prompt: 'The cat', max_tokens: 6, temperature: 0 });
  assert.equal(completion.object, 'text_completion');
  assert.equal(typeof completion.choices[0].text, 'string');
  assert.ok(completion.usage.completion_tokens > 0 && completion.usage.completion_tokens <= 6);
  const cstream = await client.completions.create({ model, prompt: 'The cat', max_tokens: 6, temperature: 0, stream: true });
  let ctext = '';
  for await (const chunk of cstream) ctext += chunk.choices[0]?.text ?? '';
  assert.equal(ctext, completion.choices[0].text);
  log(`completion: ${JSON.stringify(completion.choices[0].text)}`);

  // Errors come back as the client's typed errors, not hangs.
  await assert.rejects(client.chat.completions.create({ model, messages: [], max_tokens: 4 }),
                       (e) => e instanceof OpenAI.BadRequestError);
  const anonymous = new OpenAI({ baseURL: client.baseURL, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(anonymous.chat.completions.create({ model, messages, max_tokens: 4 }),
                       (e) => e instanceof OpenAI.AuthenticationError);
  log('all checks passed');
}

let code = 0;
try {
  await main();
} catch (e) {
  console.error('FAILED:', e);
  code = 1;
} finally {
  if (server) server.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 200));
  rmSync(work, { recursive: true, force: true });
}
process.exit(code);
