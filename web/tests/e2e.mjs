// End-to-end test of the web console: a real `sskai server` (temp data dir, ephemeral port) driven
// by Debian's Chromium through playwright-core. Run by ctest (label "ui"):
//   SSKAI_BINARY=build/apps/sskai/sskai SSKAI_WEB_DIR=build/web CHROMIUM=/usr/bin/chromium node web/tests/e2e.mjs
// Screenshots go to SSKAI_ARTIFACT_DIR (default build/web-e2e).
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
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
let server, browser, dataDir;

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

async function main() {
  const t0 = Date.now();
  const { url, token } = await startServer();
  log(`server at ${url}, data dir ${dataDir}`);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: url });
  context.setDefaultTimeout(STEP_TIMEOUT);
  const page = await context.newPage();
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
    await shot(page, 'job');
    const jobs = await api(url, token, 'GET', '/v1/jobs');
    assert(jobs.json.items.length === 1, `one job submitted, got ${jobs.json.items.length}`);
  });

  await step('models: lineage dataset -> job -> model', async () => {
    await nav(page, 'Models');
    await page.getByRole('link', { name: 'points-mlp' }).click();
    const lineage = page.getByTestId('lineage');
    await lineage.getByText('dataset points v1').waitFor();
    await lineage.getByText(/job #\d+/).waitFor();
    await page.getByTestId('model-metrics').waitFor();
    await shot(page, 'model');
  });

  await step('inference: deploy and predict in the playground', async () => {
    await nav(page, 'Inference');
    await choose(page, 'Model', 'points-mlp');
    await page.getByLabel('Endpoint name').fill('points');
    await page.getByTestId('deploy').click();
    await page.waitForURL(/\/inference\/points/);
    await page.getByTestId('state-badge').getByText('ready', { exact: true }).first().waitFor({ timeout: 60000 });
    await page.getByLabel('x1', { exact: true }).fill('0.85');
    await page.getByLabel('x2', { exact: true }).fill('0.9');
    await page.getByTestId('predict').click();
    await page.getByTestId('prediction').getByText(/left|right/).waitFor();
    await shot(page, 'endpoint');
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
