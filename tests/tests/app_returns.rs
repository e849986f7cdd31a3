//! Returns from any till of the branch, through the real app: a sale rung
//! at T01 (`sentra-term`) is looked up at T02 (the `sentra-pos` app, driven
//! through WebDriver) through the branch relay, verified with T01's key and
//! refunded; the money and the stock are right in both Z reports and in the
//! cloud's ledger. When the relay serves an altered sale, T02 refuses it.
//!
//! T02 reaches the relay through a chaos proxy, which alters one response.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use sentra_e2e::app::{App, Launch};
use sentra_e2e::{Cloud, Link, Relay, Till, catalog_csv};
use serde_json::Value;

const BRANCH: &str = "JKT01";
const CASHIER_PIN: &str = "1234";
const SUPERVISOR_PIN: &str = "987654";
const F8: &str = "\u{E038}";

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(i64::MIN)
}

fn rupiah(n: i64) -> String {
    sentra_domain::Money::idr(n).to_string()
}

/// The id of the cashier `name`, as the cloud knows it.
fn user_id(cloud: &Cloud, name: &str) -> Result<String> {
    let id = cloud.sql(&format!(
        "SELECT user_id FROM cashiers WHERE name = '{name}'"
    ))?;
    ensure!(!id.trim().is_empty(), "no user {name}");
    Ok(id.trim().to_owned())
}

/// Sign in as `user_id` with the cashier's PIN and open a shift of 100.000.
async fn sign_in_and_open_shift(app: &App, user_id: &str) -> Result<()> {
    app.el_within("pin-screen", Duration::from_secs(30)).await?;
    app.el(&format!("cashier-tile\"][data-user-id=\"{user_id}"))
        .await?
        .click()
        .await?;
    app.fill("pin-input", CASHIER_PIN).await?;
    app.click("pin-submit").await?;
    app.type_into("open-shift-float", "100000").await?;
    app.click("open-shift-submit").await?;
    app.el("sale-screen").await?;
    Ok(())
}

/// F8, then look `receipt` up.
async fn look_up(app: &App, receipt: &str) -> Result<()> {
    app.type_into("scan-input", F8).await?;
    app.fill("void-receipt-input", receipt).await?;
    app.click("receipt-lookup").await?;
    Ok(())
}

/// Type `text` into the scan field as a person types (a scanner's burst
/// does not search), and return what the first hit says is on hand.
async fn stock_in_search(app: &App, text: &str) -> Result<String> {
    app.el("scan-input").await?.clear().await?;
    for ch in text.chars() {
        app.type_into("scan-input", &ch.to_string()).await?;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let Ok(hit) = app.el_within("hit-stock", Duration::from_secs(10)).await else {
        let shown = app
            .client
            .execute(
                "const r = document.querySelector('[data-testid=search-results]'); \
                 return (r ? r.outerHTML : '') + ' input=' + document.querySelector('[data-testid=scan-input]').value;",
                vec![],
            )
            .await?;
        anyhow::bail!("no stock on hand in the search hit: {shown}");
    };
    let milli = hit.attr("data-milli").await?.unwrap_or_default();
    let shown = hit.text().await?;
    // Esc closes the results; the field is cleared before the next search.
    app.type_into("scan-input", "\u{E00C}").await?;
    app.wait_count("search-results", 0, Duration::from_secs(5))
        .await?;
    ensure!(shown.starts_with("Stok"), "in Indonesian: {shown:?}");
    Ok(milli)
}

/// Close the receipt dialog (Esc) so the sale screen has the keys again.
async fn close_dialog(app: &App) -> Result<()> {
    app.client
        .execute(
            "document.activeElement && document.activeElement.blur()",
            vec![],
        )
        .await?;
    app.type_into("scan-input", "\u{E00C}").await.ok();
    app.wait_count("receipt-dialog", 0, Duration::from_secs(5))
        .await
}

// A plain test: the proxy (`Link`) runs its own runtime, so the app is
// driven from a runtime of the test's own, below.
#[test]
fn a_sale_of_t01_is_returned_at_t02_through_the_relay_and_an_altered_one_is_refused() -> Result<()>
{
    let cloud = Cloud::start()?;
    cloud.branch_create(BRANCH)?;
    // Stock is tracked: the catalog is imported for the branch.
    cloud.catalog_import(&catalog_csv(), Some(BRANCH))?;
    for (name, pin, role) in [
        ("Sari", CASHIER_PIN, "cashier"),
        ("Budi", SUPERVISOR_PIN, "supervisor"),
    ] {
        cloud.admin(&[
            "user", "add", "--name", name, "--pin", pin, "--branch", BRANCH, "--role", role,
        ])?;
    }
    let relay = Relay::start(&cloud.url(), Some(&cloud.enroll_code(BRANCH, "relay")?))?;
    // T02 talks to the relay through a proxy that can alter an answer.
    let t02_link = Link::to(&relay.url())?;

    // T01 (the CLI) sells two Indomie and an Aqua, then an Aqua alone.
    let t01 = Till::ready(BRANCH, "T01")?;
    t01.enroll(
        &cloud.url(),
        &cloud.enroll_code(BRANCH, "terminal")?,
        Some(&relay.url()),
    )?;
    let first = t01.sell(&["IND-GRGx2", "AQUA600"], &["cash:20000"])?;
    let second = t01.sell(&["AQUA600"], &["cash:4000"])?;
    let receipt_1 = first["receipt_no"].as_str().context("receipt")?.to_owned();
    let receipt_2 = second["receipt_no"].as_str().context("receipt")?.to_owned();
    let report = t01.sync_until(0, Duration::from_secs(60))?;
    ensure!(report["upstream"] == "relay", "T01 synced through {report}");

    // T02 enrolls after T01, so its first pull brings T01's key.
    let t02 = Till::init(BRANCH, "T02")?;
    t02.enroll(
        &cloud.url(),
        &cloud.enroll_code(BRANCH, "terminal")?,
        Some(&t02_link.url()),
    )?;
    t02.sync_until(0, Duration::from_secs(60))?;
    let sari = user_id(&cloud, "Sari")?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let refund_no = runtime.block_on(async {
        let app = App::launch(&Launch {
            data_dir: t02.data_dir.clone(),
            printer: None,
        })
        .await?;
        let result = async {
            sign_in_and_open_shift(&app, &sari).await?;

            // Stock on hand from the cloud (T02 has no catalog of its own):
            // 240 imported, 2 sold at T01 and counted by the cloud.
            let before = stock_in_search(&app, "indomie").await?;
            ensure!(before == "238000", "IND-GRG on hand at T02: {before}");

            // The first sale, from T01, through the relay: found and verified.
            look_up(&app, &receipt_1).await?;
            let other = app
                .el_within("receipt-other-till", Duration::from_secs(20))
                .await
                .context("the receipt is shown as T01's")?;
            let other = other.text().await?;
            ensure!(other.contains("T01"), "sold at {other:?}");
            // Return one Indomie of the two, in cash.
            app.click("receipt-refund").await?;
            app.fill("refund-qty", "1").await?;
            app.click("refund-submit").await?;
            app.type_into("supervisor-pin-input", SUPERVISOR_PIN)
                .await?;
            app.click("supervisor-pin-submit").await?;
            let refund_no = app
                .el_within("refund-no", Duration::from_secs(10))
                .await
                .context("the refund is done")?
                .text()
                .await?;
            ensure!(
                refund_no.contains("T02"),
                "a T02 refund number: {refund_no}"
            );
            close_dialog(&app).await?;
            // The returned Indomie is back on hand at T02 at once.
            let after = stock_in_search(&app, "indomie").await?;
            ensure!(
                after == "239000",
                "IND-GRG on hand after the return: {after}"
            );

            // The second sale, with its unit price altered on the way: refused.
            t02_link.tamper_response_once(b"\"unit_price\":4000", b"\"unit_price\":1000")?;
            look_up(&app, &receipt_2).await?;
            let banner = app
                .el_within("error-banner", Duration::from_secs(20))
                .await
                .context("the altered sale is refused")?;
            let code = banner.attr("data-code").await?.unwrap_or_default();
            ensure!(t02_link.tampered(), "the proxy altered the answer");
            let said = banner.text().await?;
            ensure!(
                code == "foreign_entry_refused",
                "refused as altered, not {code:?}: {said}"
            );
            // In the cashier's language (the till speaks Indonesian).
            ensure!(
                said.contains("ditolak karena tidak asli"),
                "the refusal in Indonesian: {said}"
            );
            println!("altered sale refused: {said}");
            ensure!(
                !app.exists("receipt-other-till").await?,
                "nothing of the altered sale is shown"
            );
            close_dialog(&app).await?;

            // T02's Z: the refund of 3.500 paid from its drawer.
            app.click("menu-button").await?;
            app.click("menu-close-shift").await?;
            app.fill("close-shift-counted", "96500").await?;
            app.click("close-shift-submit").await?;
            if app
                .el_within("close-shift-confirm", Duration::from_millis(1500))
                .await
                .is_ok()
            {
                app.click("close-shift-confirm").await?;
            }
            let lines = app.text("report-lines").await?;
            ensure!(
                lines.contains(&format!("Retur                   1 x -{}", rupiah(3_500)))
                    || lines.contains(&format!("-{}", rupiah(3_500))),
                "T02's Z shows the refund:\n{lines}"
            );
            let variance = app.text("report-variance").await?;
            ensure!(
                variance.contains("Rp 0"),
                "T02's drawer balances: {variance}\n{lines}"
            );
            Ok::<_, anyhow::Error>(refund_no)
        }
        .await;
        app.quit().await.ok();
        result
    })?;
    drop(runtime);

    // T01's Z: both sales stand (a return elsewhere does not change them):
    // 2 × 3.500 + 4.000 and 4.000, all cash, on a float of 500.000.
    let z1 = t01.close_shift(500_000 + 11_000 + 4_000)?;
    ensure!(
        int(&z1["sales_total"]) == 11_000 + 4_000 && int(&z1["variance"]) == 0,
        "T01's Z: {z1}"
    );
    t01.sync_until(0, Duration::from_secs(60))?;
    t02.sync_until(0, Duration::from_secs(60))?;

    // The cloud's ledger: the refund against T01's sale, no conflict, and
    // the stock: two sold, one back.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let refunds = cloud.sql(&format!(
            "SELECT refund_no || '|' || receipt_no || '|' || total FROM refunds
             WHERE refund_no = '{}'",
            refund_no.trim()
        ))?;
        if refunds.trim() == format!("{}|{receipt_1}|3500", refund_no.trim()) {
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "the cloud holds the refund: {refunds:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let conflicts = cloud.sql("SELECT string_agg(kind, ',') FROM conflicts")?;
    ensure!(conflicts.trim().is_empty(), "no conflict: {conflicts}");
    let on_hand = cloud.count("SELECT on_hand_milli FROM stock_levels WHERE sku = 'IND-GRG'")?;
    ensure!(
        on_hand == 240_000 - 2_000 + 1_000,
        "IND-GRG on hand {on_hand}: 240 imported, 2 sold at T01, 1 back at T02"
    );
    println!("returned {refund_no} of {receipt_1} at T02; IND-GRG on hand {on_hand}; T01 Z {z1}");
    drop(relay);
    Ok(())
}
