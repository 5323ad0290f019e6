/**
 * compare.html in a real browser: Debian's chromium (system executable, driven by
 * playwright-core), offline — every request other than the file itself is refused and
 * counted. Every design has its row and its column, every plot is drawn with a real size,
 * and the page logs no error. Uses the fixed data set of the unit test, or the compare.json
 * of a real run when WEFT_COMPARE_JSON names one.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { CompareReport } from '../../src/lab/compare/compare-types.js';
import { writeOutputs } from '../../src/lab/compare/run-compare.js';
import { REPORT } from '../unit/compare-fixture.js';

const CHROMIUM = process.env.WEFT_CHROMIUM ?? '/usr/bin/chromium';
const PLOTS = ['throughput', 'latency', 'convergence', 'cpu', 'topology'];

describe('compare.html in chromium, offline', { timeout: 120_000 }, () => {
  const data: CompareReport = process.env.WEFT_COMPARE_JSON
    ? (JSON.parse(readFileSync(process.env.WEFT_COMPARE_JSON, 'utf8')) as CompareReport)
    : REPORT;
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-cmp-html-'));
  let browser: Browser | undefined;
  let page: Page;
  const consoleErrors: string[] = [];
  const refused: string[] = [];

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/install-test-deps.sh installs Debian's chromium`);
    writeOutputs(dir, data);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const ctx = await browser.newContext({ offline: true, viewport: { width: 1400, height: 1000 } });
    page = await ctx.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url === `file://${path.join(dir, 'compare.html')}`) return route.continue();
      refused.push(url);
      return route.abort();
    });
    await page.goto(`file://${path.join(dir, 'compare.html')}`, { waitUntil: 'load', timeout: 30_000 });
  });
  after(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads offline with no console errors and no other request', async () => {
    assert.equal(await page.title(), `weft lab compare — ${data.createdAt}`);
    assert.deepEqual(consoleErrors, []);
    assert.deepEqual(refused, []);
  });

  it("shows every design's row in the measurements and its column in the seed table", async () => {
    for (const d of data.designs) {
      const row = page.locator(`#measurements tr[data-design="${d.design}"]`);
      assert.equal(await row.count(), 1, `measurement row of ${d.design}`);
      assert.ok(await row.isVisible());
      assert.equal(await row.locator('td').first().textContent(), d.design);
      assert.equal(await page.locator(`#seed-table td[data-design="${d.design}"]`).count(), 10, `seed-table cells of ${d.design}`);
    }
    assert.equal(await page.locator('#seed-table tr[data-row]').count(), 10);
  });

  it('draws every plot with a real size and its marks', async () => {
    for (const p of PLOTS) {
      const svg = page.locator(`figure[data-plot="${p}"] svg`);
      assert.equal(await svg.count(), 1, `plot ${p}`);
      const box = await svg.boundingBox();
      assert.ok(box && box.width > 300 && box.height > 100, `plot ${p} has size ${JSON.stringify(box)}`);
      assert.ok(await svg.isVisible(), `plot ${p} visible`);
    }
    const ok = data.designs.filter((d) => d.throughput);
    assert.equal(await page.locator('figure[data-plot="throughput"] rect.bar').count(), ok.length * 2);
    assert.equal(
      await page.locator('figure[data-plot="convergence"] path.cdf').count(),
      data.designs.filter((d) => d.convergence?.samplesMs.length).length,
    );
    const bar = await page.locator('figure[data-plot="throughput"] rect.bar').first().boundingBox();
    assert.ok(bar && bar.width > 1, 'the first throughput bar has a width');
    if (process.env.WEFT_COMPARE_SCREENSHOT) await page.screenshot({ path: process.env.WEFT_COMPARE_SCREENSHOT, fullPage: true });
  });
});
