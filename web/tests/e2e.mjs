// End-to-end test of the web console: a real `sskai server` (temp data dir, ephemeral port) driven
// by Debian's Chromium through playwright-core. Run by ctest (label "ui"):
//   SSKAI_BINARY=build/apps/sskai/sskai SSKAI_WEB_DIR=build/web CHROMIUM=/usr/bin/chromium node web/tests/e2e.mjs
// Screenshots go to SSKAI_ARTIFACT_DIR (default build/web-e2e).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BINARY = process.env.SSKAI_BINARY ?? 'build/apps/sskai/sskai';
const WEB_DIR = process.env.SSKAI_WEB_DIR ?? 'build/web';
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = process.env.SSKAI_ARTIFACT_DIR ?? path.join(path.dirname(WEB_DIR), 'web-e2e');
const STEP_TIMEOUT = 20000;

for (const [what, p] of [['sskai binary', BINARY], ['console build (run `make web`)', path.join(WEB_DIR, 'index.html')], ['chromium', CHROMIUM]]) {
  if (!existsSync(p)) {
    console.error(`e2e: ${what} not found at ${p}`);
    process.exit(1);
  }
}
mkdirSync(ARTIFACTS, { recursive: true });

const results = [];
let server, browser, dataDir, currentPage;

function log(msg) {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

async function startServer() {
  dataDir = mkdtempSync(path.join(tmpdir(), 'sskai-web-e2e-'));
  server = spawn(BINARY, ['server', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--web-dir', WEB_DIR, '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
  const token = readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim();
  return { url, token };
}

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true, ms: Date.now() - t0 });
    log(`PASS ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false, ms: Date.now() - t0, error: e });
    log(`FAIL ${name}: ${e.stack ?? e}`);
    if (currentPage) {
      log(`  at ${currentPage.url()}`);
      await shot(currentPage, 'FAILED').catch(() => {});
    }
    throw e;
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error('assertion failed: ' + msg);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, name + '.png'), fullPage: true });
}

// Picks an option in a Mantine Select by its label.
async function choose(page, label, option) {
  await page.getByLabel(label, { exact: true }).and(page.locator('input')).click();
  await page.getByRole('option', { name: option, exact: true }).click();
}

// Clicks an entry of the side navigation.
async function nav(page, label) {
  await page.locator('nav').getByRole('link', { name: label, exact: true }).click();
}

function csvFile(name, text) {
  return { name, mimeType: 'text/csv', buffer: Buffer.from(text) };
}

// Two well separated classes: small enough to train in seconds.
function trainingCsv() {
  const lines = ['x1,x2,label'];
  for (let idx = 0; idx < 90; idx++) {
    const a = idx % 2 === 0;
    const x1 = (a ? 0.2 : 0.8) + ((idx * 37) % 10) / 100;
    const x2 = (a ? 0.3 : 0.9) - ((idx * 17) % 10) / 100;
    lines.push(`${x1.toFixed(3)},${x2.toFixed(3)},${a ? 'left' : 'right'}`);
  }
  return lines.join('\n') + '\n';
}

async function api(base, token, method, p, body) {
  const res = await fetch(base + p, {
    method,
    headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}


// Which routes this server has (GET /v1/openapi.json), so steps for features that are not merged
// yet are skipped instead of failing.
async function routes(base, token) {
  const r = await api(base, token, 'GET', '/v1/openapi.json');
  return (path, method) => !!r.json?.paths?.[path]?.[method];
}

function skip(what) {
  log(`SKIP ${what}`);
}

// A TorchScript classifier for the points data (2 features, classes left/right), made with
// Debian's Python + torch; null when python3-torch is missing.
function makeTorchScript(dir) {
  const out = path.join(dir, 'points_net.pt');
  const code = [
    'import sys, torch',
    'class Net(torch.nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.fc = torch.nn.Linear(2, 2)',
    '    def forward(self, x):',
    '        return self.fc(x)',
    'torch.manual_seed(0)',
    'torch.jit.script(Net().eval()).save(sys.argv[1])',
  ].join('\n');
  // torch.jit.script reads the module's source, so the script must be a file (not python3 -c).
  const script = path.join(dir, 'make_points_net.py');
  writeFileSync(script, code + '\n');
  const r = spawnSync('/usr/bin/python3', [script, out], { encoding: 'utf8', timeout: 120000 });
  return r.status === 0 && existsSync(out) ? out : null;
}

function chatJsonl() {
  const pairs = [['Hi', 'Hello there!'], ['Who are you?', 'A tiny model.'], ['Tell me a fact.', 'Cats purr.'], ['Bye', 'See you soon.'], ['What is blue?', 'The sea and the sky.']];
  const lines = [];
  for (let rep = 0; rep < 4; rep++) for (const [q, a] of pairs) lines.push(JSON.stringify({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: a }] }));
  return lines.join('\n') + '\n';
}

async function waitJob(base, token, id, seconds) {
  for (let t = 0; t < seconds * 2; t++) {
    const j = await api(base, token, 'GET', `/v1/jobs/${id}`);
    if (['succeeded', 'failed', 'cancelled'].includes(j.json.state)) return j.json;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`job ${id} did not finish in ${seconds} s`);
}

async function main() {
  const t0 = Date.now();
  const { url, token } = await startServer();
  log(`server at ${url}, data dir ${dataDir}`);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: url });
  context.setDefaultTimeout(STEP_TIMEOUT);
  const page = await context.newPage();
  currentPage = page;
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  await step('static assets: content types and SPA fallback', async () => {
    const index = await fetch(url + '/jobs/123');
    assert(index.status === 200 && index.headers.get('content-type').startsWith('text/html'), 'deep link serves index.html');
    assert(index.headers.get('cache-control') === 'no-cache', 'index.html is no-cache');
    const html = await index.text();
    const js = /src="(\/assets\/[^"]+\.js)"/.exec(html)[1];
    const asset = await fetch(url + js);
    assert(asset.headers.get('content-type').startsWith('text/javascript'), 'js content type');
    assert(asset.headers.get('cache-control').includes('immutable'), 'hashed assets cached');
    const api404 = await fetch(url + '/v1/nope');
    assert(api404.status === 404 && (await api404.json()).error, 'API 404 stays JSON');
  });

  await step('login: bad token is refused, good token signs in', async () => {
    await page.goto('/');
    await page.waitForURL(/\/login/);
    await page.getByLabel('API token').fill('sk_not_a_real_token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That token is not valid').waitFor();
    await shot(page, 'login-error');
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.getByTestId('user-name').getByText('admin').waitFor();
  });

  await step('data: upload a CSV, see its preview and statistics', async () => {
    await nav(page, 'Data');
    await page.getByText('No datasets yet').waitFor();
    await page.locator('input[type=file]').setInputFiles(csvFile('points.csv', trainingCsv()));
    await page.getByTestId('picked-file').getByText('points.csv').waitFor();
    assert((await page.getByLabel('Dataset name').inputValue()) === 'points', 'name from the file');
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.waitForURL(/\/data\/points/);
    await page.getByTestId('row-count').getByText('90 rows').waitFor();
    const table = page.getByTestId('preview-table');
    await table.waitFor();
    assert((await table.locator('tbody tr').count()) === 20, 'preview shows 20 rows');
    assert((await table.locator('thead').innerText()).includes('x1'), 'preview header');
    await page.getByRole('tab', { name: 'Statistics' }).click();
    await page.getByTestId('stats-table').waitFor();
    await shot(page, 'dataset');
  });

  await step('data: a broken CSV shows its line and column inline', async () => {
    await page.goto('/data');
    await page.locator('input[type=file]').setInputFiles(csvFile('broken.csv', 'a,b,c\n1,2,x\n3,4,y\n5,6\n'));
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const err = page.getByTestId('upload-error');
    await err.waitFor();
    await err.getByTestId('error-line').getByText('line 4').waitFor();
    assert((await err.innerText()).includes('expected 3 fields, got 2'), 'message shown');
    await page.locator('input[type=file]').setInputFiles(csvFile('noname.csv', 'a,b,\n1,2,3\n'));
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await err.getByTestId('error-column').getByText('column 3').waitFor();
    assert(page.url().endsWith('/data'), 'stays on the page');
    await shot(page, 'upload-error');
  });

  let jobUrl;
  await step('train: planner estimate, submit, live curve, succeeded', async () => {
    await nav(page, 'Train');
    await choose(page, 'Dataset', 'points');
    await page.getByLabel('Model name').fill('points-mlp');
    await page.getByLabel('Epochs').fill('20');
    await page.getByLabel('Learning rate').fill('0.05');
    await page.getByTestId('plan').or(page.getByTestId('plan-error')).waitFor();
    await shot(page, 'train');
    const start = page.getByTestId('start-training');
    await start.dblclick(); // a double click must not submit twice
    await page.waitForURL(/\/jobs\/\d+/);
    jobUrl = new URL(page.url()).pathname;
    await page.getByTestId('state-badge').getByText('succeeded', { exact: true }).first().waitFor({ timeout: 120000 });
    const curve = page.getByTestId('loss-chart').locator('.recharts-line-curve');
    await curve.first().waitFor();
    assert((await curve.count()) >= 1, 'a loss curve is drawn');
    await page.getByTestId('job-model-link').waitFor();
    await page.getByTestId('timeline').getByText('succeeded').first().waitFor();
    await page.getByTestId('timeline-counts').getByText(/\d+ checkpoints/).waitFor();
    await shot(page, 'job');
    const jobs = await api(url, token, 'GET', '/v1/jobs');
    assert(jobs.json.items.length === 1, `one job submitted, got ${jobs.json.items.length}`);
  });

  await step('models: the owner toggles visibility; lineage dataset -> job -> model', async () => {
    await nav(page, 'Models');
    const row = page.getByTestId('models').getByRole('row').filter({ hasText: 'points-mlp' });
    await row.getByTestId('model-private').waitFor();
    await row.getByTestId('toggle-visibility').click();
    await row.getByTestId('model-public').waitFor();
    const shared = await api(url, token, 'GET', '/v1/models/points-mlp');
    assert(shared.json.visibility === 'public', 'the toggle made points-mlp public: ' + JSON.stringify(shared.json));
    await row.getByTestId('toggle-visibility').click();
    await row.getByTestId('model-private').waitFor();
    await page.getByRole('link', { name: 'points-mlp' }).click();
    const lineage = page.getByTestId('lineage');
    await lineage.getByText('dataset points v1').waitFor();
    await lineage.getByText(/job #\d+/).waitFor();
    await page.getByTestId('model-metrics').waitFor();
    await page.getByTestId('profile-button').click();
    const summary = page.getByTestId('profile-summary');
    await summary.waitFor({ timeout: 60000 });
    assert((await summary.innerText()).includes('Parameters'), 'profile shows parameters');
    await page.getByTestId('profile-measurements').getByText('training step').first().waitFor();
    await shot(page, 'model');
  });

  await step('inference: planner advice, deploy with the plan, predict, traffic charts', async () => {
    await nav(page, 'Inference');
    await choose(page, 'Model', 'points-mlp');
    await page.getByLabel('Endpoint name').fill('points');
    // The model was profiled above, so the advice is measured.
    const result = page.getByTestId('serve-plan-result');
    await result.getByText('From the model’s measured profile').waitFor({ timeout: 30000 });
    await page.getByLabel('Peak requests/s').fill('0.5');
    await page.getByText('Peak requests/s must be at least the mean.').waitFor();
    await page.getByLabel('Peak requests/s').fill('3');
    await page.getByTestId('serve-options').waitFor();
    await shot(page, 'deploy-plan');
    await page.getByTestId('deploy-with-plan').click();
    await page.waitForURL(/\/inference\/points/);
    const ep = await api(url, token, 'GET', '/v1/endpoints/points');
    assert(ep.json.plan && ep.json.plan.plan_id > 0, 'endpoint records its plan: ' + JSON.stringify(ep.json.plan));
    // Dedicated endpoints warm a replica now; serverless ones start on the first request.
    if (ep.json.mode === 'dedicated') await page.getByTestId('state-badge').getByText('ready', { exact: true }).first().waitFor({ timeout: 60000 });
    await page.getByLabel('x1', { exact: true }).fill('0.85');
    await page.getByLabel('x2', { exact: true }).fill('0.9');
    await page.getByTestId('predict').click();
    await page.getByTestId('prediction').getByText(/left|right/).waitFor({ timeout: 60000 });
    await page.getByTestId('traffic-stats').getByText('Requests').waitFor();
    await page.getByTestId('replica-chart').waitFor({ timeout: 30000 });
    await shot(page, 'endpoint');
  });

  const has = await routes(url, token);

  await step('models: upload a TorchScript model with its spec; a wrong file is refused inline', async () => {
    if (!has('/v1/models/{name}/versions', 'post')) return skip('TorchScript upload: the server has no POST /v1/models/{name}/versions');
    const pt = makeTorchScript(dataDir);
    if (!pt) return skip('TorchScript upload: /usr/bin/python3 cannot import torch');
    await nav(page, 'Models');
    await page.getByTestId('open-upload-model').click();
    await page.locator('input[type=file]').setInputFiles({ name: 'points_net.pt', mimeType: 'application/octet-stream', buffer: Buffer.from('a,b\n1,2\n') });
    await page.getByTestId('upload-model-name').fill('points-ts');
    await page.getByTestId('upload-model-spec').fill(JSON.stringify({ inputs: [{ name: 'x', shape: [-1, 2] }], task: 'classification', classes: ['left', 'right'] }));
    await page.getByTestId('upload-model').click();
    await page.getByTestId('upload-model-error').getByText(/TorchScript|zip/).waitFor({ timeout: 30000 });
    await page.locator('input[type=file]').setInputFiles(pt);
    await page.getByTestId('upload-model').click();
    await page.waitForURL(/\/models\/points-ts/, { timeout: 60000 });
    await page.getByTestId('torchscript-details').getByText('[-1, 2]').first().waitFor();
    await shot(page, 'model-torchscript');
  });

  await step('inference: canary rollout of a second model version, promote it', async () => {
    if (!has('/v1/endpoints/{name}/rollout', 'post')) return skip('rollouts: the server has no /v1/endpoints/{name}/rollout');
    const created = await api(url, token, 'POST', '/v1/jobs', { dataset: 'points', model: 'points-mlp', hyperparameters: { epochs: 5 } });
    assert(created.status < 300, 'second version job: ' + JSON.stringify(created.json));
    const done = await waitJob(url, token, created.json.id, 120);
    assert(done.state === 'succeeded', 'second version trained: ' + done.state);
    await page.goto('/inference/points');
    await page.getByTestId('new-rollout').click();
    await page.getByLabel('Steps (%)').fill('50, 100');
    await page.getByLabel('Seconds per step').fill('600');
    await page.getByTestId('start-rollout').click();
    await page.getByTestId('rollout-phase').getByText('running').waitFor();
    await page.getByTestId('rollout-versions').getByText('canary').waitFor();
    await shot(page, 'endpoint-rollout');
    await page.getByRole('button', { name: 'Promote now' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Promote now' }).click();
    await page.getByTestId('rollout-phase').getByText('promoted').waitFor({ timeout: 30000 });
    const ep = await api(url, token, 'GET', '/v1/endpoints/points');
    assert(ep.json.model.version === 2, 'endpoint serves v2 after promotion: ' + JSON.stringify(ep.json.model));
  });

  await step('LM: gallery, fine-tune the demo model briefly, chat with it (streaming)', async () => {
    if (!has('/v1/gallery', 'get')) return skip('LM: the server has no /v1/gallery');
    await nav(page, 'Models');
    await page.getByTestId('gallery').waitFor();
    const demo = await api(url, token, 'GET', '/v1/models/sskai-demo');
    if (demo.status !== 200) return skip('LM fine-tune: no sskai-demo model on this server (`make demo-model`)');
    await page.getByTestId('gallery-item').filter({ hasText: 'sskai-demo' }).getByTestId('pulled').waitFor();
    await page.getByTestId('model-public').first().waitFor();  // the demo model is shared with every user
    await shot(page, 'models-gallery');
    const up = await fetch(url + '/v1/datasets/chat/versions?filename=chat.jsonl', { method: 'POST', headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/octet-stream' }, body: chatJsonl() });
    assert(up.status === 201, 'chat dataset uploaded: ' + (await up.text()));
    await page.goto('/train?kind=lm');
    await page.getByTestId('lm-base').fill('sskai-demo');
    await page.keyboard.press('Escape');
    await choose(page, 'Dataset (JSONL)', 'chat');
    await page.getByTestId('lm-output').fill('demo-chat');
    await choose(page, 'Chat template', 'ChatML');
    await page.getByLabel('Rank', { exact: true }).fill('4');
    await page.getByTestId('lm-steps').fill('6');
    await page.getByLabel('Max sequence length').fill('64');
    const lmPlan = page.getByTestId('lm-plan-card');
    await lmPlan.getByTestId('plan').or(lmPlan.getByTestId('plan-error')).waitFor();  // planner advice for the LM job
    await shot(page, 'train-lm');
    await page.getByTestId('start-finetune').click();
    await page.waitForURL(/\/jobs\/\d+/);
    await page.locator('h2').locator('..').getByTestId('state-badge').getByText('succeeded', { exact: true }).waitFor({ timeout: 180000 });
    await page.getByTestId('loss-chart').locator('.recharts-line-curve').first().waitFor();
    await shot(page, 'job-lm');
    if (!has('/v1/endpoints/{name}/v1/chat/completions', 'post')) return skip('LM chat: the server has no chat completions route');
    const ep = await api(url, token, 'POST', '/v1/endpoints', { name: 'demo-chat', model: 'demo-chat', mode: 'dedicated' });
    assert(ep.status === 201, 'LM endpoint created: ' + JSON.stringify(ep.json));
    await page.goto('/inference/demo-chat');
    await page.getByTestId('chat').waitFor();
    await page.getByLabel('Message').fill('Hi');
    await page.getByTestId('chat-send').click();
    await page.getByTestId('chat-assistant').first().waitFor({ timeout: 120000 });
    await page.getByTestId('chat-stats').getByText(/tokens/).waitFor();
    assert((await page.getByTestId('chat-assistant').first().innerText()).trim().length > 0, 'the model answered');
    await shot(page, 'endpoint-chat');
  });

  await step('dashboard and cost pages show live data or a clean unavailable state', async () => {
    await nav(page, 'Dashboard');
    // The newest activity (checkpoints stay on the job's timeline): the endpoint deployed in the
    // previous step, the job that trained its model.
    await page.getByTestId('events').getByText(/endpoint/).first().waitFor();
    await page.getByTestId('events').getByText(/succeeded/).first().waitFor();
    if (await page.getByTestId('events').getByText(/^checkpoint$/).count()) throw new Error('checkpoints in the activity feed');
    await page.getByTestId('cost-total').or(page.getByText('Cost data is not available on this server yet')).first().waitFor();
    await shot(page, 'dashboard');
    await nav(page, 'Cost');
    await page.getByTestId('cost-groups').or(page.getByText('Cost data is not available on this server yet')).or(page.getByText('No usage in this period')).first().waitFor();
    await shot(page, 'cost');
  });

  await step('job controls: pause, resume, cancel a long job; its timeline shows each step', async () => {
    const created = await api(url, token, 'POST', '/v1/jobs', { dataset: 'points', model: 'points-long', hyperparameters: { epochs: 10000, batch_size: 1 } });
    assert(created.status === 201 || created.status === 200, 'long job created: ' + JSON.stringify(created.json));
    await page.goto(`/jobs/${created.json.id}`);
    const badge = page.locator('h2').locator('..').getByTestId('state-badge');
    await badge.getByText('running', { exact: true }).waitFor({ timeout: 60000 });
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Pause', exact: true }).click();
    await badge.getByText('paused', { exact: true }).waitFor({ timeout: 60000 });
    await page.getByTestId('timeline').locator('[data-kind=pause]').first().waitFor();
    await page.getByTestId('resume').click();
    await page.getByTestId('resume').waitFor({ state: 'detached' });
    await shot(page, 'job-controls');
    await page.getByRole('button', { name: 'Cancel job', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel job', exact: true }).click();
    await badge.getByText('cancelled', { exact: true }).waitFor({ timeout: 30000 });
  });

  await step('deep link reload keeps the page and the session', async () => {
    await page.goto(jobUrl);
    await page.reload();
    await page.getByTestId('loss-chart').waitFor();
    assert(new URL(page.url()).pathname === jobUrl, 'same URL after reload');
  });

  await step('narrow window (400 px): every page renders without horizontal overflow', async () => {
    await page.setViewportSize({ width: 400, height: 800 });
    for (const p of ['/', '/data', '/data/points', '/models', '/models/points-mlp', '/train', jobUrl, '/inference', '/inference/points', '/cost']) {
      await page.goto(p);
      await page.waitForLoadState('networkidle').catch(() => {});
      await page.waitForTimeout(200);
      const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
      assert(scroll <= inner + 1, `${p}: scrollWidth ${scroll} > ${inner}`);
      await shot(page, 'narrow' + (p === '/' ? '-dashboard' : p.replace(/\//g, '-')));
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await step('a revoked token (401) sends the user back to login', async () => {
    const created = await api(url, token, 'POST', '/v1/tokens', { name: 'e2e-revoke' });
    assert(created.status === 201, 'token created');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login/);
    await page.getByLabel('API token').fill(created.json.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await nav(page, 'Train');
    const list = await api(url, token, 'GET', '/v1/tokens');
    const id = list.json.items.find((t) => t.name === 'e2e-revoke').id;
    assert((await api(url, token, 'DELETE', `/v1/tokens/${id}`)).status < 300, 'token revoked');
    await page.waitForURL(/\/login\?next=%2Ftrain/, { timeout: 15000 });
    await page.getByTestId('session-expired').waitFor();
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/train$/);
  });

  assert(consoleErrors.length === 0, 'no uncaught page errors: ' + consoleErrors.join('; '));
  log(`all ${results.length} steps passed in ${((Date.now() - t0) / 1000).toFixed(1)} s; screenshots in ${ARTIFACTS}`);
}

let code = 0;
try {
  await main();
} catch (e) {
  code = 1;
  console.error(e);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => {
      const timer = setTimeout(() => {
        server.kill('SIGKILL');
        r();
      }, 10000);
      server.on('exit', () => {
        clearTimeout(timer);
        r();
      });
    });
  }
  if (dataDir && code === 0) rmSync(dataDir, { recursive: true, force: true });
  else if (dataDir) console.error(`e2e: data dir kept for inspection: ${dataDir}`);
}
process.exit(code);
