// Browser test of the head-office reports, in real headless Chromium driven
// by playwright-core. Started by tests/tests/office_reports_browser.rs, which
// makes the data with real tills and passes it in OFFICE_FIXTURE; with
// OFFICE_SCREENSHOTS=DIR it also saves the reports page and the PPN return.
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

// A week either side of today: the tills sold today.
const day = (d) => new Date(Date.now() + d * 86400000).toISOString().slice(0, 10);
const from = day(-7);
const to = day(7);
const sum = (xs) => xs.reduce((a, b) => a + b, 0);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage", "--lang=id-ID"],
});

async function session() {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: "id-ID", timezoneId: "Asia/Jakarta", acceptDownloads: true });
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

async function column(page, col) {
  const vs = await page.$$eval(`#report tbody td[data-col="${col}"]`, (tds) => tds.map((td) => Number(td.dataset.value)));
  return sum(vs);
}

async function total(page, col) {
  const v = await page.getAttribute(`#report tfoot th[data-col="${col}"]`, "data-value");
  return v === null ? null : Number(v);
}

const jkt = fx.ledgers.JKT01;
const bdg = fx.ledgers.BDG01;

try {
  {
    const { context, page } = await session();
    await signIn(page, fx.users.finance);
    // The nav link, then the daily ledger of both branches.
    await page.click("header nav a[href='/office/reports']");
    check(new URL(page.url()).pathname === "/office/reports", "the Laporan link opens the reports");
    await page.goto(`${base}/office/reports?report=ledger&from=${from}&to=${to}`);
    check((await total(page, "net")) === jkt.net + bdg.net, `ledger report: net of both branches = ledger --json (${jkt.net} + ${bdg.net})`);
    check((await total(page, "tax")) === jkt.tax + bdg.tax, "ledger report: tax = ledger --json");

    // Sales by item of JKT01, chosen with the page's own form.
    await page.selectOption("select[name=report]", "items");
    await page.uncheck("input[name=branch][value=BDG01]");
    await Promise.all([page.waitForNavigation(), page.click("form.filters button[type=submit]")]);
    check(page.url().includes("report=items") && !page.url().includes("BDG01"), `the form asks for items of JKT01 (${page.url()})`);
    check((await total(page, "net_sales")) === jkt.net, `items JKT01: net sales ${await total(page, "net_sales")} = ledger net ${jkt.net}`);
    check((await total(page, "refunds")) === jkt.refunds, "items JKT01: refunds = ledger");
    check((await total(page, "discounts")) === jkt.discounts, "items JKT01: discounts = ledger");
    await shot(page, "reports");

    // The CSV through its link: a file named for the report, the same totals.
    const [csv] = await Promise.all([page.waitForEvent("download"), page.click("#export-csv")]);
    check(/^sentra-items-JKT01-.*\.csv$/.test(csv.suggestedFilename()), `CSV file name ${csv.suggestedFilename()}`);
    const text = readFileSync(await csv.path(), "utf8").trim().split("\n");
    const head = text[0].split(",");
    const at = head.indexOf("net_sales");
    const csvNet = sum(text.slice(1).map((l) => Number(l.split(",").at(at - head.length))));
    check(csvNet === jkt.net, `CSV net_sales ${csvNet} = ledger net ${jkt.net}`);
    const [xlsx] = await Promise.all([page.waitForEvent("download"), page.click("#export-xlsx")]);
    check(/^sentra-items-JKT01-.*\.xlsx$/.test(xlsx.suggestedFilename()), `XLSX file name ${xlsx.suggestedFilename()}`);
    const bytes = readFileSync(await xlsx.path());
    check(bytes.length > 1000 && bytes[0] === 0x50 && bytes[1] === 0x4b, `the XLSX is a zip (${bytes.length} bytes)`);

    // Voids and refunds say who and why.
    await page.goto(`${base}/office/reports?report=voids&from=${from}&to=${to}`);
    check((await page.textContent("#report tbody")).includes("salah input"), "voids: the reason is shown");

    // The PPN return: the tills' tax, to the rupiah.
    await page.goto(`${base}/office/reports?report=ppn&from=${from}&to=${to}`);
    check((await column(page, "ppn")) === jkt.tax + bdg.tax, `PPN return: PPN = the ledgers' tax (${jkt.tax + bdg.tax})`);
    check((await column(page, "sales_incl")) === jkt.net + bdg.net, "PPN return: sales incl. PPN = the ledgers' net");
    const classes = await page.$$eval(`#report tbody td[data-col="class"]`, (tds) => tds.map((t) => t.textContent));
    check(classes.includes("standard") && classes.includes("exempt"), `PPN return: classes ${classes}`);
    await shot(page, "reports-ppn");
    await context.close();
  }
  {
    const { context, page } = await session();
    await signIn(page, fx.users.manager);
    await page.goto(`${base}/office/reports?report=items&from=${from}&to=${to}`);
    const boxes = await page.$$eval("input[name=branch]", (is) => is.map((i) => i.value));
    check(boxes.length === 1 && boxes[0] === "JKT01", `manager: only JKT01 to choose (${boxes})`);
    check((await total(page, "net_sales")) === jkt.net, "manager: items of JKT01 only");
    const resp = await page.goto(`${base}/office/reports?report=items&branch=BDG01&from=${from}&to=${to}`);
    check(resp.status() === 403 && (await page.content()).includes("BDG01"), `manager: BDG01 refused by name (${resp.status()})`);
    const csvResp = await page.request.get(`${base}/office/reports/csv?report=ledger&branch=BDG01&from=${from}&to=${to}`);
    check(csvResp.status() === 403, `manager: a BDG01 export refused (${csvResp.status()})`);
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
