// Head office runs the chain from the browser: catalog, prices, import,
// branch settings, devices, cashiers' PINs, office users — in real headless
// Chromium (Debian's /usr/bin/chromium) driven by playwright-core, with real
// tills (`sentra-term`) on the other side. Started by
// tests/tests/office_manage_browser.rs (OFFICE_FIXTURE); with
// OFFICE_SCREENSHOTS=DIR it saves a picture of every page it visits.
import { chromium } from "playwright-core";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { execFileSync, spawnSync } from "node:child_process";
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

// A till command: { status, stdout, stderr }.
function term(till, args, input) {
  const r = spawnSync(fx.term, ["--data-dir", fx.tills[till], ...args], {
    input: input ?? "",
    encoding: "utf8",
    timeout: 120000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
function termJson(till, args) {
  const r = term(till, ["--json", ...args]);
  if (r.status !== 0) throw new Error(`sentra-term ${args.join(" ")}: ${r.status} ${r.stderr}`);
  return JSON.parse(r.stdout);
}
function sync(till) {
  return term(till, ["--json", "sync", "--wait-ms", "3000"]);
}
function priceOnTill(till, sku) {
  const p = termJson(till, ["catalog", "show", sku]);
  return (Array.isArray(p) ? p[0] : p).unit_price;
}

// The value a datetime-local field holds for `ms` in Asia/Jakarta (UTC+7, no
// DST): `YYYY-MM-DDTHH:MM:SS`, or `YYYY-MM-DDTHH:MM` on a whole minute — the
// browser drops `:00` seconds, and Playwright's fill refuses a value the field
// does not keep as typed (this failed CI once a minute's turn fell on it).
function wib(ms) {
  const s = new Date(ms + 7 * 3600 * 1000).toISOString().slice(0, 19);
  return s.endsWith(":00") ? s.slice(0, 16) : s;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage", "--lang=id-ID"],
});

async function session() {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: "id-ID", timezoneId: "Asia/Jakarta" });
  const page = await context.newPage();
  page.on("pageerror", (e) => failures.push("page error: " + e.message));
  return { context, page };
}

async function signIn(page, user) {
  await page.goto(base + "/office/signin");
  await page.fill("input[name=email]", user.email);
  await page.fill("input[name=password]", user.password);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  check(new URL(page.url()).pathname === "/office", `${user.email}: signed in`);
}

async function submit(page, selector) {
  await Promise.all([page.waitForNavigation(), page.click(selector)]);
}

try {
  const { page } = await session();
  await signIn(page, fx.users.admin);

  // ---- a price scheduled ahead reaches the till now and applies at its time
  await page.goto(base + "/office/catalog?q=teh");
  check((await page.locator("#products tbody tr").count()) >= 1, "catalog search finds TEH-BTL");
  await shot(page, "catalog");
  const before = priceOnTill("t01", "TEH-BTL");
  const effectiveMs = Date.now() + 25000;
  await page.goto(base + "/office/catalog/item/TEH-BTL");
  await page.fill("#price input[name=price]", "7.250");
  await page.selectOption("#price select[name=scope]", "chain");
  await page.fill("#price input[name=effective_from]", wib(effectiveMs));
  await submit(page, "#price button");
  check((await page.textContent("#done")) !== null, "price saved");
  check((await page.locator("#prices .warn").count()) === 1, "the new price is listed as scheduled");
  await shot(page, "product");
  let r = sync("t01");
  check(r.status === 0, `t01 sync after the price (${r.status} ${r.stderr})`);
  check(priceOnTill("t01", "TEH-BTL") === before, `before its time the till still sells at ${before}`);

  // ---- a CSV import with bad lines is refused whole, each line named
  const bad = join(fx.tmp, "bad.csv");
  writeFileSync(bad, "sku,barcode,name,price,tax_category,stock,category\n" +
    "NEW-1,8990001,Kopi Baru,15000,standard,,Minuman\n" +
    "NEW-2,8990002,Harga Salah,lima ribu,standard,,Minuman\n" +
    "NEW-3,8990003,Gula,18000,standard,,Bahan\n" +
    "NEW-4,8990004,Pajak Salah,9000,mewah-sekali,,Bahan\n");
  await page.goto(base + "/office/catalog/import");
  await shot(page, "catalog-import");
  await page.setInputFiles("#upload input[name=file]", bad);
  await submit(page, "#upload button");
  const errors = await page.textContent("#errors");
  check(errors.includes("baris 3") && errors.includes("baris 5"), `bad lines 3 and 5 are named: ${errors.replace(/\s+/g, " ")}`);
  check((await page.locator("#apply").count()) === 0, "a refused file offers no apply");
  await shot(page, "catalog-import-refused");
  await page.goto(base + "/office/catalog?q=NEW-1");
  check((await page.locator("#products tbody a").count()) === 0, "nothing of the refused file was applied");
  const good = join(fx.tmp, "good.csv");
  writeFileSync(good, "sku,barcode,name,price,tax_category,stock,category,unit\n" +
    "NEW-1,8990001,Kopi Baru,15000,standard,,Minuman,unit\n" +
    "NEW-3,8990003,Gula Pasir,18000,standard,,Bahan,weighed\n" +
    "NEW-5,8990005,Tas Kulit,2500000,luxury,,Aksesori,unit\n");
  await page.goto(base + "/office/catalog/import");
  await page.setInputFiles("#upload input[name=file]", good);
  await submit(page, "#upload button");
  check((await page.textContent("#summary")).includes("3 produk baru"), "the preview counts 3 new products");
  await shot(page, "catalog-import-preview");
  await submit(page, "#apply");
  check((await page.textContent("#done")) !== null, "the import is applied");
  await page.goto(base + "/office/catalog?q=NEW-");
  check((await page.locator("#products tbody a").count()) === 3, "the 3 new products are in the catalog");

  // ---- branch settings set in the page are pulled by a till
  await page.goto(base + "/office/branches/JKT01/settings");
  await page.fill("#settings input[name=legal_name]", "PT Sentra Ritel Nusantara");
  await page.fill("#settings input[name=store_name]", "Sentra Mart Kemang");
  await page.fill("#settings textarea[name=address]", "Jl. Kemang Raya No. 8, Jakarta Selatan");
  await page.fill("#settings input[name=npwp]", "01.234.567.8-901.000");
  await page.fill("#settings textarea[name=receipt_footer]", "Terima kasih atas kunjungan Anda\nBarang yang sudah dibeli tidak dapat ditukar");
  await page.fill("#settings input[name=supervisor_discount_pct]", "15");
  await page.selectOption("#settings select[name=receipt_language]", "en");
  await page.fill("#settings textarea[name=scale_labels]", "20 5 weight\n22 4 price");
  await submit(page, "#settings button");
  check((await page.textContent("#done")) !== null, "settings saved");
  await shot(page, "branch-settings");
  r = sync("t01");
  check(r.status === 0, "t01 sync after the settings");
  const info = termJson("t01", ["info"]);
  const bs = info.branch_settings || {};
  check(bs.npwp === "012345678901000", `the till holds the NPWP (${bs.npwp})`);
  check((bs.receipt_footer || "").includes("tidak dapat ditukar"), `the till holds the footer (${bs.receipt_footer})`);
  check(bs.legal_name === "PT Sentra Ritel Nusantara", "the till holds the seller's legal name");
  check(bs.receipt_language === "en", `the till prints receipts in the branch's language (${bs.receipt_language})`);
  const rules = (bs.scale_labels || []).map((r) => `${r.prefix} ${r.item_digits} ${r.embeds}`).join("; ");
  check(rules === "20 5 weight; 22 4 price", `the till reads the branch's scale labels (${rules})`);

  // ---- an enrollment code made in the page enrolls a till
  await page.goto(base + "/office/devices");
  await page.selectOption("#enroll select[name=branch]", "JKT01");
  await submit(page, "#enroll button");
  const code = (await page.textContent("#code")).trim();
  check(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(code), `an enrollment code is shown (${code})`);
  check((await page.getAttribute("#qr", "src")).startsWith("data:image/svg+xml;base64,"), "and its QR code");
  await shot(page, "enroll-code");
  r = term("t02", ["--json", "enroll", "--server", base, "--code", code]);
  check(r.status === 0, `T02 enrolls with the page's code (${r.status} ${r.stderr})`);
  const t02 = JSON.parse(r.stdout || "{}").device_id || termJson("t02", ["info"]).device_id;
  r = sync("t02");
  check(r.status === 0, "T02 syncs once enrolled");

  // ---- a device revoked in the page is refused at its next push
  await page.goto(base + "/office/devices");
  await page.fill(`tr[data-device="${t02}"] input[name=reason]`, "kasir hilang dicuri");
  await submit(page, `tr[data-device="${t02}"] button.danger`);
  check((await page.textContent("#done")) !== null, "device revoked in the page");
  await shot(page, "devices");
  termJson("t02", ["sell", "--item", "AQUA600", "--pay", "cash:5000"]);
  r = sync("t02");
  check(r.status !== 0, `T02's push after the revocation is not taken (exit ${r.status})`);
  check((r.stdout + r.stderr).includes("device_revoked"), `… refused as device_revoked: ${(r.stdout + r.stderr).slice(0, 300)}`);

  // ---- a PIN reset in the page signs the cashier in at the till after a sync
  await page.goto(base + "/office/people?branch=JKT01");
  await page.fill('tr[data-person="Siti"] form.pin input[name=pin]', "246810");
  await page.fill('tr[data-person="Siti"] form.pin input[name=pin2]', "246810");
  await submit(page, 'tr[data-person="Siti"] form.pin button');
  check((await page.textContent("#done")) !== null, "PIN reset in the page");
  await page.selectOption("#add-person select[name=branch]", "JKT01");
  await page.fill("#add-person input[name=name]", "Budi");
  await page.fill("#add-person input[name=pin]", "8642");
  await page.fill("#add-person input[name=pin2]", "8642");
  await submit(page, "#add-person button");
  await shot(page, "people");
  r = sync("t01");
  check(r.status === 0, "t01 sync after the PIN reset");
  check(term("t01", ["cashier", "check", "Siti"], "246810\n").status === 0, "Siti signs in at the till with the new PIN");
  check(term("t01", ["cashier", "check", "Siti"], "1234\n").status !== 0, "… and no longer with the old one");
  r = term("t01", ["cashier", "check", "Budi"], "8642\n");
  check(r.status === 0, `Budi, added in the page, signs in at the till (${r.stderr})`);

  await page.goto(base + "/office/users");
  check((await page.locator("#users tbody tr").count()) >= 2, "the admin sees the office users");
  await page.fill("#add-user input[name=email]", "auditor.baru@sentra.test");
  await page.selectOption("#add-user select[name=role]", "auditor");
  await page.fill("#add-user input[name=password]", "kata-sandi-baru-2");
  await submit(page, "#add-user button");
  check((await page.locator('#users tr[data-user="auditor.baru@sentra.test"]').count()) === 1, "an office user added in the page");
  await page.uncheck('#users tr[data-user="auditor.baru@sentra.test"] input[name=active]');
  await submit(page, '#users tr[data-user="auditor.baru@sentra.test"] button');
  check((await page.locator('#users tr[data-user="auditor.baru@sentra.test"] .bad').count()) === 1, "… and disabled");
  // A product's details changed in the page.
  await page.goto(base + "/office/catalog/item/NEW-1");
  await page.fill("#product input[name=category]", "Kopi");
  await submit(page, "#product button");
  check((await page.inputValue("#product input[name=category]")) === "Kopi", "a product's category changed in the page");
  await shot(page, "office-users");
  await page.goto(base + "/office/settings");
  await shot(page, "settings");
  await page.goto(base + "/office/audit");
  const audit = await page.textContent("main");
  check(audit.includes("price_set") && audit.includes("device_revoked") && audit.includes("branch_settings"), "the audit log shows the changes");
  await shot(page, "audit-changes");

  // ---- a manager of JKT01: not another branch's prices or devices, no office users
  {
    const m = await session();
    await signIn(m.page, fx.users.manager);
    const users = await m.page.goto(base + "/office/users");
    check(users.status() === 403, `a manager may not see office users (${users.status()})`);
    await m.page.goto(base + "/office/catalog/item/TEH-BTL");
    const scopes = await m.page.locator("#price select[name=scope] option").allTextContents();
    check(scopes.length === 1 && scopes[0].startsWith("JKT01"), `the manager's price form offers only JKT01 (${scopes})`);
    const csrf = await m.page.getAttribute("#price input[name=csrf]", "value");
    let res = await m.page.request.post(base + "/office/catalog/item/TEH-BTL/price", { form: { csrf, price: "1000", scope: "BDG01" } });
    check(res.status() === 403, `a BDG01 price from a JKT01 manager is refused (${res.status()})`);
    res = await m.page.request.post(base + "/office/catalog/item/TEH-BTL/price", { form: { csrf, price: "1000", scope: "chain" } });
    check(res.status() === 403, `a chain-wide price from a manager is refused (${res.status()})`);
    res = await m.page.request.post(`${base}/office/devices/${fx.bdg_device}/revoke`, { form: { csrf, reason: "coba" } });
    check(res.status() === 404, `a BDG01 device cannot be revoked by a JKT01 manager (${res.status()})`);
    await m.page.goto(base + "/office/devices");
    check((await m.page.locator(`tr[data-device="${fx.bdg_device}"]`).count()) === 0, "the manager does not see BDG01's devices");
    // Their own branch's price they may set.
    await m.page.goto(base + "/office/catalog/item/AQUA600");
    await m.page.fill("#price input[name=price]", "4200");
    await submit(m.page, "#price button");
    check((await m.page.textContent("#done")) !== null, "the manager sets a JKT01 price");
    await m.context.close();
  }

  // ---- the scheduled price applies at its time (the till recomputes each round)
  const wait = effectiveMs + 1500 - Date.now();
  if (wait > 0) await new Promise((res) => setTimeout(res, wait));
  r = sync("t01");
  check(r.status === 0, "t01 sync after the price's time");
  const after = priceOnTill("t01", "TEH-BTL");
  check(after === 7250, `after its time the till sells TEH-BTL at 7250 (got ${after})`);
  check(priceOnTill("t01", "AQUA600") === 4200, "and AQUA600 at the manager's JKT01 price");
} catch (e) {
  failures.push("exception: " + (e.stack || e));
  console.error(e);
} finally {
  await browser.close();
}
console.log(`${checks} checks, ${failures.length} failed`);
if (failures.length) {
  for (const f of failures) console.error("FAIL: " + f);
  process.exit(1);
}
