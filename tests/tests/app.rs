//! The cashier app itself (`sentra-pos`), driven through WebDriver under a
//! private X display: sign in by PIN, scan with wedge keystrokes, pay cash,
//! the receipt reaches a (fake) network printer as a faktur pajak eceran
//! (seller, address, NPWP, the PPN it contains), a scale's weighed label
//! rings its weight, a void needs a supervisor, and the Z report matches the
//! sales — online, and with no upstream answering at all.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use sentra_e2e::app::{App, FakePrinter, Launch};
use sentra_e2e::{Cloud, Till, catalog_csv};

const BRANCH: &str = "JKT01";
const CASHIER_PIN: &str = "1234";
const SUPERVISOR_PIN: &str = "987654";
/// What a keyboard-wedge scanner sends after the digits.
const ENTER: &str = "\u{E007}";

/// Indomie 3.500 + Aqua 4.000 + Teh Botol 6.000 (tax included).
const SCANS: [&str; 3] = ["8998866200301", "8886008101053", "8993675020145"];
const SALE_TOTAL: i64 = 13_500;
/// PPN contained in it: 11 % effective (12 % on a DPP of 11/12) of each
/// line, 3.500 → 347, 4.000 → 396, 6.000 → 595.
const SALE_TAX: i64 = 347 + 396 + 595;
/// A scale's label for 450 g of rice (item 00001 under the default rule:
/// prefix 20, 5-digit item code, grams; rice's shelf code is 2000001000007).
const RICE_450G_LABEL: &str = "2000001004500";
const LEGAL_NAME: &str = "PT Sentra Ritel Nusantara";
const ADDRESS_1: &str = "Jl. Kemang Raya No. 10";
const ADDRESS_2: &str = "Jakarta Selatan 12730";
const NPWP_DIGITS: &str = "012345678901000";

/// A cloud with the branch, its catalog and two people; a till enrolled
/// there that has pulled them.
fn branch_with_till() -> Result<(Cloud, Till, String, String)> {
    let cloud = Cloud::start()?;
    cloud.branch_create(BRANCH)?;
    cloud.catalog_import(&catalog_csv(), Some(BRANCH))?;
    cloud.admin(&[
        "user",
        "add",
        "--name",
        "Sari",
        "--pin",
        CASHIER_PIN,
        "--branch",
        BRANCH,
    ])?;
    cloud.admin(&[
        "user",
        "add",
        "--name",
        "Budi",
        "--pin",
        SUPERVISOR_PIN,
        "--branch",
        BRANCH,
        "--role",
        "supervisor",
    ])?;
    // What head office enters on the branch's settings page: the receipt
    // then serves as a faktur pajak eceran.
    cloud.sql(&format!(
        "UPDATE branches SET legal_name = '{LEGAL_NAME}', address = E'{ADDRESS_1}\\n{ADDRESS_2}',
                npwp = '{NPWP_DIGITS}' WHERE code = '{BRANCH}'"
    ))?;
    let till = Till::init(BRANCH, "T01")?;
    let code = cloud.enroll_code(BRANCH, "terminal")?;
    till.enroll(&cloud.url(), &code, None)?;
    let (exit, _, run) = till.sync()?;
    ensure!(exit == Some(0), "first sync failed: {}", run.stderr);
    let people = cloud.sql(&String::from(
        "SELECT string_agg(user_id::text || '=' || name, ',' ORDER BY name) FROM cashiers",
    ))?;
    let id_of = |name: &str| {
        people
            .trim()
            .split(',')
            .find_map(|p| {
                p.split_once('=')
                    .filter(|(_, n)| *n == name)
                    .map(|(id, _)| id.to_owned())
            })
            .with_context(|| format!("no user {name} in {people}"))
    };
    let (sari, budi) = (id_of("Sari")?, id_of("Budi")?);
    Ok((cloud, till, sari, budi))
}

fn rupiah(n: i64) -> String {
    sentra_domain::Money::idr(n).to_string()
}

/// Sign in as `user_id`, open the shift, ring the three scans, pay cash
/// 20.000; returns the receipt number and how long pay → change took.
async fn sign_in_and_sell(app: &App, user_id: &str) -> Result<(String, Duration)> {
    app.el_within("pin-screen", Duration::from_secs(30)).await?;
    app.el(&format!("cashier-tile\"][data-user-id=\"{user_id}"))
        .await?
        .click()
        .await?;
    app.type_into("pin-input", "0000").await?;
    app.click("pin-submit").await?;
    app.wait_js(
        "(document.querySelector('[data-testid=\"pin-error\"]')?.textContent || '').trim().length > 0",
        Duration::from_secs(10),
    )
    .await
    .context("a wrong PIN shows an error")?;
    app.fill("pin-input", CASHIER_PIN).await?;
    app.click("pin-submit").await?;
    app.type_into("open-shift-float", "100000").await?;
    app.click("open-shift-submit").await?;
    app.el("sale-screen").await?;
    for (i, code) in SCANS.iter().enumerate() {
        // A wedge scanner: the digits, then Enter, as keystrokes.
        app.type_into("scan-input", &format!("{code}{ENTER}"))
            .await?;
        app.wait_count("cart-line", i + 1, Duration::from_secs(5))
            .await?;
    }
    let total = app.text("cart-total").await?;
    ensure!(total.contains(&rupiah(SALE_TOTAL)), "cart total {total:?}");
    app.click("tender-button").await?;
    app.click("tender-method-cash").await?;
    app.fill("tender-amount", "20000").await?;
    let paid = Instant::now();
    app.click("tender-pay").await?;
    let change = app.text("change-amount").await?;
    let took = paid.elapsed();
    ensure!(change.contains(&rupiah(6_500)), "change shown {change:?}");
    let receipt = app.text("receipt-no").await?;
    let preview = app.text("receipt-preview").await?;
    ensure!(preview.contains("Indomie Goreng 85g"), "preview: {preview}");
    Ok((receipt.trim().to_owned(), took))
}

/// The sale of [`sign_in_and_sell`], then its receipt at the printer,
/// checked line by line.
async fn sell_and_print(
    app: &App,
    printer: &FakePrinter,
    user_id: &str,
) -> Result<(String, Duration)> {
    let (receipt, took) = sign_in_and_sell(app, user_id).await?;
    let jobs = printer.wait_jobs(1, Duration::from_secs(20))?;
    check_receipt(&jobs[0], &receipt)?;
    Ok((receipt, took))
}

/// The receipt job decoded: the three items and the totals.
fn check_receipt(bytes: &[u8], receipt_no: &str) -> Result<()> {
    let printed = sentra_printer::decode(bytes).context("the printer got valid ESC/POS")?;
    let text = printed.lines.join("\n");
    for name in [
        "Indomie Goreng 85g",
        "Aqua Air Mineral 600ml",
        "Teh Botol Sosro 450ml",
    ] {
        ensure!(
            text.contains(name),
            "{name} missing from the receipt:\n{text}"
        );
    }
    ensure!(
        text.contains(receipt_no.split_whitespace().last().unwrap_or(receipt_no)),
        "receipt number missing:\n{text}"
    );
    let total_line = printed
        .lines
        .iter()
        .find(|l| l.starts_with("TOTAL"))
        .context("no TOTAL line")?;
    ensure!(
        total_line.ends_with(&rupiah(SALE_TOTAL)),
        "TOTAL line {total_line:?}"
    );
    ensure!(
        printed
            .lines
            .iter()
            .any(|l| l.starts_with("Tunai/Cash") && l.ends_with(&rupiah(20_000))),
        "cash tendered missing:\n{text}"
    );
    ensure!(
        printed
            .lines
            .iter()
            .any(|l| l.starts_with("Kembali") && l.ends_with(&rupiah(6_500))),
        "change missing:\n{text}"
    );
    // The faktur pajak eceran: seller, address, NPWP, and the PPN the
    // tax-inclusive total contains.
    for want in [
        LEGAL_NAME,
        ADDRESS_1,
        ADDRESS_2,
        "NPWP 01.234.567.8-901.000",
    ] {
        ensure!(
            printed.lines.iter().any(|l| l == want),
            "{want:?} missing from the receipt:\n{text}"
        );
    }
    ensure!(
        printed
            .lines
            .iter()
            .any(|l| l.starts_with("PPN sudah termasuk") && l.ends_with(&rupiah(SALE_TAX))),
        "the PPN-included line ({}) is missing:\n{text}",
        rupiah(SALE_TAX)
    );
    ensure!(
        printed.drawer_kicks == 1,
        "a cash sale opens the drawer once"
    );
    ensure!(printed.cuts == 1, "the paper is cut once");
    Ok(())
}

/// Void `receipt` (needs the supervisor's PIN), close the shift; the Z
/// report must show what was sold.
async fn void_and_close(app: &App, receipt: &str) -> Result<()> {
    // A second sale to void, so the first stays in the Z report: a
    // package of rice weighed at the scale, its label scanned.
    app.click("next-sale").await?;
    app.type_into("scan-input", &format!("{RICE_450G_LABEL}{ENTER}"))
        .await?;
    app.wait_count("cart-line", 1, Duration::from_secs(5))
        .await?;
    let line = app.el("cart-line").await?;
    let (sku, milli) = (
        line.attr("data-sku").await?.unwrap_or_default(),
        line.attr("data-qty-milli").await?.unwrap_or_default(),
    );
    ensure!(
        sku == "BERAS-KG" && milli == "450",
        "the label rings 450 g of rice, not {milli} of {sku}"
    );
    let line_text = line.text().await?;
    ensure!(
        line_text.contains("0,450 kg") && line_text.contains(&rupiah(6_525)),
        "the weighed line reads {line_text:?}"
    );
    app.click("tender-button").await?;
    app.click("tender-method-cash").await?;
    app.fill("tender-amount", "6525").await?;
    app.click("tender-pay").await?;
    let voided = app.text("receipt-no").await?.trim().to_owned();
    ensure!(voided != receipt, "a new receipt number");
    app.click("next-sale").await?;
    app.el("sale-screen").await?;
    app.type_into("scan-input", "\u{E038}").await?; // F8: receipts
    app.fill("void-receipt-input", &voided).await?;
    app.click("void-submit").await?;
    // A cashier cannot void alone: the supervisor's PIN is asked for.
    app.type_into("supervisor-pin-input", SUPERVISOR_PIN)
        .await?;
    app.click("supervisor-pin-submit").await?;
    app.wait_js(
        "!document.querySelector('[data-testid=\"supervisor-pin-input\"]')",
        Duration::from_secs(10),
    )
    .await?;
    app.client
        .execute(
            "document.activeElement && document.activeElement.blur()",
            vec![],
        )
        .await?;
    app.type_into("scan-input", "\u{E00C}").await.ok(); // Esc closes the dialog
    // A no-sale: the drawer opened to change a note, then the X report.
    app.click("menu-button").await?;
    app.click("menu-no-sale").await?;
    app.click("no-sale-change").await?;
    app.el_within("notice-banner", Duration::from_secs(5))
        .await
        .context("the no-sale is confirmed")?;
    app.click("menu-button").await?;
    app.click("menu-x-report").await?;
    let no_sales = app.text("report-no-sales").await?;
    let x_lines = app.text("report-lines").await?;
    ensure!(
        no_sales.trim() == "1" && x_lines.contains("Laci dibuka tanpa jual"),
        "the X report counts the no-sale: {no_sales:?}\n{x_lines}"
    );
    app.click("report-close").await?;
    app.click("menu-button").await?;
    app.click("menu-close-shift").await?;
    // Float 100.000 + cash 13.500 (the voided 6.525 went back) = 113.500,
    // counted by note and coin.
    for (note, count) in [
        ("100000", "1"),
        ("10000", "1"),
        ("2000", "1"),
        ("1000", "1"),
        ("500", "1"),
    ] {
        app.fill(&format!("count-{note}"), count).await?;
    }
    let counted = app.el("close-shift-counted").await?.prop("value").await?;
    ensure!(
        counted.as_deref() == Some("113500"),
        "the count by note fills the counted cash: {counted:?}"
    );
    app.click("close-shift-submit").await?;
    if app
        .el_within("close-shift-confirm", Duration::from_millis(1500))
        .await
        .is_ok()
    {
        app.click("close-shift-confirm").await?;
    }
    let lines = app.text("report-lines").await?;
    let sales_total = app.text("report-sales-total").await?;
    ensure!(
        sales_total.contains(&rupiah(SALE_TOTAL)),
        "Z sales total {sales_total:?}\n{lines}"
    );
    ensure!(lines.contains("Z"), "a Z report:\n{lines}");
    for want in ["Rp 100.000 x 1", "Rp 500 x 1", "Laci dibuka tanpa jual"] {
        ensure!(
            lines.contains(want),
            "{want:?} missing from the Z report:\n{lines}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cashier_sells_prints_voids_and_closes_through_the_real_app() -> Result<()> {
    let (cloud, till, sari, _budi) = branch_with_till()?;
    let printer = FakePrinter::start()?;
    let app = App::launch(&Launch {
        data_dir: till.data_dir.clone(),
        printer: Some(printer.addr.to_string()),
    })
    .await?;
    let result = async {
        let (receipt, took) = sell_and_print(&app, &printer, &sari).await?;
        // The app marks the job printed once the printer took it.
        app.wait_js(
            "document.querySelector('[data-testid=\"print-status\"]')?.dataset.state === 'printed'",
            Duration::from_secs(10),
        )
        .await
        .context("the print status shows printed")?;
        void_and_close(&app, &receipt).await?;
        let perf = app.perf().await?;
        println!("pay→change {took:?}; perf {perf}");
        Ok(())
    }
    .await;
    app.quit().await.ok();
    drop(cloud);
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_sale_with_no_upstream_answering_takes_no_network_time() -> Result<()> {
    let (mut cloud, till, sari, _budi) = branch_with_till()?;
    // The worst network: a relay address that accepts and never answers,
    // and the cloud gone.
    let hung = std::net::TcpListener::bind("127.0.0.1:0")?;
    let hung_url = format!("http://{}", hung.local_addr()?);
    till.ok(&["set-relay", &hung_url])?;
    cloud.stop();
    let printer = FakePrinter::start()?;
    let app = App::launch(&Launch {
        data_dir: till.data_dir.clone(),
        printer: Some(printer.addr.to_string()),
    })
    .await?;
    let result = async {
        let (_receipt, took) = sell_and_print(&app, &printer, &sari).await?;
        // The sale is durable and the change shown without waiting on any
        // network timeout (the sync client's are seconds long).
        ensure!(
            took < Duration::from_millis(1500),
            "pay → change took {took:?}"
        );
        let state = app
            .el("sync-state")
            .await?
            .attr("data-state")
            .await?
            .unwrap_or_default();
        println!(
            "offline: pay→change {took:?}; sync state {state}; perf {}",
            app.perf().await?
        );
        Ok(())
    }
    .await;
    app.quit().await.ok();
    drop(hung);
    result
}
