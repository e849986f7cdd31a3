// The cashier app's screens keep nothing per sale: the real UI (ui/leak.html
// — the app's screens on the fake backend, built by
// `vite build --config vite.leak.config.ts` into ui/dist-leak) in headless
// Chromium, ringing sales the way the cashier does. After a warm-up, the
// JavaScript heap (after a forced garbage collection), the DOM nodes and the
// event listeners are measured before and after two more rounds of sales.
// The engine's own warm-up (compiled code, inline caches) levels off within
// the first round; what a sale leaves behind grows the same in every round,
// so the limit applies to the last one. Prints the figures; fails on growth.
//
// Usage: node ui-memory.mjs [--sales N] [--plant]
//   N sales per round (default 1000); --plant makes the page keep a copy of
//   each sale's cart (~1 KiB, as a leak would) and expects the walk to fail:
//   the test of the test.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = fileURLToPath(new URL("../../ui/dist-leak/", import.meta.url));
const argv = process.argv.slice(2);
const perRound = Number(argv[argv.indexOf("--sales") + 1]) || 1000;
const plant = argv.includes("--plant");
// Per sale, after garbage collection: what a leak of one small object per
// sale would already exceed (a cart view is ~1 KiB).
const MAX_HEAP_BYTES_PER_SALE = 256;
const MAX_NODES_GROWTH = 50;
const MAX_LISTENERS_GROWTH = 20;
const WARM_UP = 300;

const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".woff2": "font/woff2", ".woff": "font/woff" };
const server = createServer(async (req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^\/+/, "");
  try {
    const body = await readFile(join(root, path || "leak.html"));
    res.writeHead(200, { "content-type": types[extname(path)] || "application/octet-stream" });
    res.end(body);
  } catch {
    res.writeHead(404);
    res.end();
  }
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const url = `http://127.0.0.1:${server.address().port}/leak.html${plant ? "?plant=1" : ""}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"],
});
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("HeapProfiler.enable");
  const measure = async () => {
    // Twice: a first collection can leave what finalizers freed.
    await cdp.send("HeapProfiler.collectGarbage");
    await cdp.send("HeapProfiler.collectGarbage");
    const heap = await cdp.send("Runtime.getHeapUsage");
    const dom = await cdp.send("Memory.getDOMCounters");
    return { heap: heap.usedSize, nodes: dom.nodes, listeners: dom.jsEventListeners };
  };
  await page.goto(url);
  await page.waitForFunction(() => !!window.__memoryWalk, null, { timeout: 30000 });
  await page.evaluate(() => window.__memoryWalk.setUp());
  await page.evaluate((n) => window.__memoryWalk.sales(n), WARM_UP);
  const started = Date.now();
  const m0 = await measure();
  await page.evaluate((n) => window.__memoryWalk.sales(n), perRound);
  const m1 = await measure();
  await page.evaluate((n) => window.__memoryWalk.sales(n), perRound);
  const m2 = await measure();
  const seconds = (Date.now() - started) / 1000;
  const kib = (b) => (b / 1024).toFixed(1);
  console.log(`ui memory walk: ${2 * perRound} sales after ${WARM_UP} warm-up, ${seconds.toFixed(1)} s in Chromium`);
  for (const [name, m] of [["after warm-up", m0], [`after ${perRound}`, m1], [`after ${2 * perRound}`, m2]]) {
    console.log(`  ${name.padEnd(14)} JS heap ${kib(m.heap)} KiB  DOM nodes ${m.nodes}  listeners ${m.listeners}`);
  }
  const perSale = (m2.heap - m1.heap) / perRound;
  console.log(
    `  JS heap per sale: ${((m1.heap - m0.heap) / perRound).toFixed(1)} bytes in the first round, ` +
      `${perSale.toFixed(1)} in the second (limit ${MAX_HEAP_BYTES_PER_SALE})`,
  );
  const problems = [];
  if (errors.length) problems.push(`page errors: ${errors.join("; ")}`);
  if (perSale > MAX_HEAP_BYTES_PER_SALE) problems.push(`the JS heap grows ${perSale.toFixed(0)} bytes a sale`);
  if (m2.nodes - m0.nodes > MAX_NODES_GROWTH) problems.push(`DOM nodes grew from ${m0.nodes} to ${m2.nodes}`);
  if (m2.listeners - m0.listeners > MAX_LISTENERS_GROWTH) problems.push(`event listeners grew from ${m0.listeners} to ${m2.listeners}`);
  if (problems.length) {
    failed = true;
    console.error(`FAIL: ${problems.join("; ")}`);
  } else {
    console.log("ok: nothing grows with the sales");
  }
} finally {
  await browser.close();
  server.close();
}
if (plant) {
  console.log(failed ? "ok: the planted leak was caught" : "FAIL: the planted leak was not caught");
  process.exit(failed ? 0 : 1);
}
process.exit(failed ? 1 : 0);
