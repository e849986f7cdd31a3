// Browser tests of the head-office pages, in real headless Chromium (Debian's
// /usr/bin/chromium) driven by playwright-core. Started by
// tests/tests/office_browser.rs, which builds the data (real tills, real
// sync, a real server) and passes it in OFFICE_FIXTURE; with
// OFFICE_SCREENSHOTS=DIR it also saves a picture of every page there.
import { chromium } from "playwright-core";
import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const fx = JSON.parse(readFileSync(process.env.OFFICE_FIXTURE, "utf8"));
const shots = process.env.OFFICE_SCREENSHOTS || "";
if (shots) mkdirSync(shots, { recursive: true });
const base = fx.url;
const failures = [];
let checks = 0;

function check(cond, what) {
  checks += 1;
  if (!cond) {
    failures.push(what);
    console.error("FAIL: " + what);
  } else {
    console.log("ok: " + what);
  }
}

async function shot(page, name) {
  if (!shots) return;
  await page.waitForLoadState("networkidle");
  await page.screenshot({ path: join(shots, name + ".png"), fullPage: true });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage", "--lang=id-ID"],
});

async function session(viewport = { width: 1366, height: 768 }) {
  const context = await browser.newContext({ viewport, locale: "id-ID", timezoneId: "Asia/Jakarta" });
  const page = await context.newPage();
  page.on("pageerror", (e) => failures.push("page error: " + e.message));
  return { context, page };
}

async function signIn(page, user) {
  await page.goto(base + "/office");
  check(page.url().includes("/office/signin"), `${user.email}: /office without a session goes to sign-in`);
  await page.fill("input[name=email]", user.email);
  await page.fill("input[name=password]", user.password);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  check(new URL(page.url()).pathname === "/office", `${user.email}: signed in, on the overview (${page.url()})`);
}

async function figure(page, table, branch, name) {
  const v = await page.getAttribute(`#${table} tr[data-branch="${branch}"] td[data-figure="${name}"]`, "data-value");
  return v === null ? null : Number(v);
}

try {
  // ---- admin: the overview against `sentra-sync ledger --json`, receipts and proof
  {
    const { context, page } = await session();
    const signinPage = await context.newPage();
    await signinPage.goto(base + "/office/signin");
    await shot(signinPage, "signin");
    await signinPage.close();
    await signIn(page, fx.users.admin);
    await page.goto(`${base}/office?from=${fx.from}&to=${fx.to}`);
    await shot(page, "overview");
    for (const [code, l] of Object.entries(fx.ledgers)) {
      for (const [name, want] of [
        ["net", l.net], ["sales_count", l.sales_count], ["refunds", l.refunds], ["voids_count", l.voids_count],
        ["gross", l.gross], ["discounts", l.discounts], ["tax", l.tax],
      ]) {
        const got = await figure(page, "period", code, name);
        check(got === want, `overview ${code} ${name}: page ${got} = ledger --json ${want}`);
      }
      const today = await figure(page, "today", code, "net");
      check(today !== null, `overview ${code}: today's net shown (${today})`);
    }
    const undelivered = await page.$$eval("#devices td[data-figure=undelivered]", (tds) => tds.map((t) => Number(t.textContent)));
    check(undelivered.length >= 2 && undelivered.every((n) => n === 0), `sync health lists the devices, nothing undelivered (${undelivered})`);

    // Tablet width: the page still fits, wide tables scroll in their box.
    const tablet = await session({ width: 820, height: 1180 });
    await tablet.page.context().addCookies(await context.cookies());
    await tablet.page.goto(`${base}/office?from=${fx.from}&to=${fx.to}`);
    const overflow = await tablet.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `tablet (820 px): the page does not scroll sideways (${overflow} px)`);
    await shot(tablet.page, "overview-tablet");
    await tablet.context.close();

    // The branch ledger, with its charts drawn by Chart.js.
    await page.goto(`${base}/office/branches/JKT01?from=${fx.from}&to=${fx.to}`);
    const charts = await page.evaluate(() =>
      [...document.querySelectorAll("canvas[data-chart]")].map((c) => !!(window.Chart && window.Chart.getChart(c))));
    check(charts.length === 2 && charts.every(Boolean), `ledger: both charts drawn (${charts})`);
    const shifts = await page.$$("#shifts tbody tr[data-shift]");
    check(shifts.length >= 1, `ledger: the shift list has ${shifts.length} shift(s)`);
    const warn = await page.$$("#shifts tbody tr.warn");
    check(warn.length >= 1, `ledger: a variance past the threshold is highlighted (${warn.length})`);
    await shot(page, "branch-ledger");

    // Search a receipt by number, open it: verified.
    await page.goto(base + "/office/receipts");
    await page.fill("input[name=receipt]", fx.receipts.good.receipt_no);
    await Promise.all([page.waitForNavigation(), page.click("form.filters button[type=submit]")]);
    await shot(page, "receipts");
    await Promise.all([page.waitForNavigation(), page.click(`#receipts a:has-text("${fx.receipts.good.receipt_no}")`)]);
    const ok = await page.$$eval("[data-verified]", (els) => els.map((e) => e.getAttribute("data-verified")));
    check(ok.length >= 1 && ok.every((v) => v === "true"), `receipt ${fx.receipts.good.receipt_no}: verified (${ok})`);
    await shot(page, "receipt-verified");

    // Search by SKU and by amount too.
    await page.goto(`${base}/office/receipts?sku=${encodeURIComponent(fx.receipts.good.sku)}&from=${fx.from}&to=${fx.to}`);
    check((await page.$$(`#receipts tr[data-receipt="${fx.receipts.good.receipt_no}"]`)).length === 1, "receipt search by SKU finds it");
    await page.goto(`${base}/office/receipts?amount=${fx.receipts.good.total}&from=${fx.from}&to=${fx.to}`);
    check((await page.$$(`#receipts tr[data-receipt="${fx.receipts.good.receipt_no}"]`)).length === 1, "receipt search by amount finds it");

    // The row the test changed in the database: not verified.
    await page.goto(`${base}/office/receipts/${fx.receipts.tampered.branch}/${fx.receipts.tampered.entry_id}`);
    const bad = await page.$$eval("[data-verified]", (els) => els.map((e) => e.getAttribute("data-verified")));
    check(bad.includes("false"), `tampered receipt ${fx.receipts.tampered.receipt_no}: not verified (${bad})`);
    await shot(page, "receipt-not-verified");
    await page.goto(`${base}/office/devices/${fx.receipts.tampered.device_id}/verify`);
    check((await page.getAttribute("[data-verified]", "data-verified")) === "false", "chain check of the tampered till: not verified");
    await shot(page, "chain-verify");

    // English, and back.
    await Promise.all([page.waitForNavigation(), page.click("button[name=lang][value=en]")]);
    await page.goto(base + "/office");
    check((await page.textContent("h1")) === "Overview", "language switches to English");
    await shot(page, "overview-en");
    await Promise.all([page.waitForNavigation(), page.click("button[name=lang][value=id]")]);
    await context.close();
  }

  // ---- finance resolves a conflict; the audit log shows it
  {
    const { context, page } = await session();
    await signIn(page, fx.users.finance);
    await page.goto(base + "/office/conflicts?kind=stale_price");
    const what = await page.textContent("#conflicts td.what");
    check(/Rp \d/.test(what || "") && /harga yang berlaku/.test(what || ""), `conflict in words: ${what}`);
    await shot(page, "conflicts");
    const boxes = await page.$$("#conflicts input[name=id]");
    check(boxes.length >= 1, `${boxes.length} open stale_price conflict(s) to decide`);
    await page.check("#select-all");
    await page.fill("textarea[name=comment]", "Daftar harga terlambat sampai ke toko; disetujui manajer area.");
    await Promise.all([page.waitForNavigation(), page.click("button[name=decision][value=resolved]")]);
    check(((await page.textContent(".notice")) || "").includes("diputuskan"), "the decision is confirmed");
    await page.goto(base + "/office/conflicts?kind=stale_price&status=decided");
    check(((await page.textContent("#conflicts")) || "").includes("Daftar harga terlambat"), "the decided conflict shows the comment");
    await shot(page, "conflicts-decided");
    await context.close();
  }
  {
    const { context, page } = await session();
    await signIn(page, fx.users.auditor);
    await page.goto(base + "/office/audit?action=conflict_resolved");
    const rows = await page.$$eval("#audit tbody tr[data-action=conflict_resolved]", (trs) => trs.map((t) => t.textContent));
    check(rows.length >= 1 && rows.every((r) => r.includes(fx.users.finance.email) && r.includes("Daftar harga terlambat")),
      `audit log: ${rows.length} resolution(s) by ${fx.users.finance.email} with the comment`);
    await page.goto(base + "/office/audit");
    await shot(page, "audit-log");
    await context.close();
  }

  // ---- a manager of JKT01 cannot see BDG01, however they ask
  {
    const { context, page } = await session();
    await signIn(page, fx.users.manager);
    const overview = await page.content();
    check(overview.includes("JKT01") && !overview.includes("BDG01"), "manager's overview: JKT01 only");
    await shot(page, "overview-manager");
    const b = fx.bdg;
    for (const path of [
      "/office/branches/BDG01",
      "/office/receipts?branch=BDG01",
      `/office/receipts/BDG01/${b.sale_entry_id}`,
      `/office/receipts/JKT01/${b.sale_entry_id}`,
      `/office/devices/${b.device_id}/verify`,
      "/office/conflicts?branch=BDG01",
    ]) {
      const resp = await page.goto(base + path);
      const body = await page.content();
      check([403, 404].includes(resp.status()) && !body.includes("BDG01-") && !body.includes(b.sale_entry_id),
        `manager: ${path} → ${resp.status()}, nothing of BDG01`);
    }
    // A query parameter: the receipt number of a BDG01 sale finds nothing.
    await page.goto(`${base}/office/receipts?receipt=${encodeURIComponent(b.receipt_no)}&from=${fx.from}&to=${fx.to}`);
    check((await page.$$("#receipts tr[data-receipt]")).length === 0, "manager: a BDG01 receipt number finds nothing");
    // A form field edited in the page: add BDG01 to the branch list and submit.
    await page.goto(base + "/office/receipts");
    await page.evaluate(() => {
      const sel = document.querySelector("select[name=branch]");
      const o = document.createElement("option");
      o.value = "BDG01"; o.textContent = "BDG01"; sel.appendChild(o); sel.value = "BDG01";
    });
    const [resp] = await Promise.all([page.waitForNavigation(), page.click("form.filters button[type=submit]")]);
    const body = await page.content();
    check(resp && resp.status() === 404 && !body.includes(b.sale_entry_id), `manager: an edited form field naming BDG01 → ${resp && resp.status()}`);
    // Sign out ends the session.
    await page.goto(base + "/office");
    await Promise.all([page.waitForNavigation(), page.click("#signout")]);
    await page.goto(base + "/office");
    check(page.url().includes("/office/signin"), "after sign-out the overview asks to sign in");
    await context.close();
  }
} catch (e) {
  failures.push("exception: " + (e && e.stack ? e.stack : e));
  console.error(e);
} finally {
  await browser.close();
}

console.log(`${checks} checks, ${failures.length} failed`);
if (failures.length) {
  for (const f of failures) console.error("  - " + f);
  process.exit(1);
}
