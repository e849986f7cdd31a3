//! Every screen of the cashier app, as a cashier reaches it, at the two
//! screen sizes it is made for (1366×768, the usual till, and 1024×768):
//! no control lies outside the window or under another control, and in
//! Indonesian no text on screen comes from the English word table (issue
//! 15). The real app, through WebDriver, under a private X display.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use sentra_e2e::app::{App, Launch};
use serde_json::{Value, json};

const PIN: &str = "246810";
/// WebDriver key codes.
const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";
const F7: &str = "\u{E037}";
const F8: &str = "\u{E038}";
const F10: &str = "\u{E03A}";
const F11: &str = "\u{E03B}";

/// One dictionary of `ui/src/i18n.ts` (`const id = {` or `const en: … = {`):
/// its values with no `{placeholder}`.
fn dictionary(source: &str, opening: &str) -> Result<BTreeSet<String>> {
    let start = source
        .find(opening)
        .with_context(|| format!("{opening} in i18n.ts"))?;
    let body = &source[start + opening.len()..];
    let body = &body[..body.find("\n};").context("end of the dictionary")?];
    let mut out = BTreeSet::new();
    for line in body.lines() {
        let Some((_, value)) = line.split_once(": '") else {
            continue;
        };
        let Some(value) = value.strip_suffix("',") else {
            continue;
        };
        let value = value.replace("\\'", "'");
        if !value.contains('{') {
            out.insert(value);
        }
    }
    ensure!(out.len() > 50, "{opening}: only {} values read", out.len());
    Ok(out)
}

/// The English words that are not also Indonesian ones ("QRIS", "PIN",
/// "Subtotal" are both).
fn english_only() -> Result<Vec<String>> {
    let source =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/i18n.ts"))?;
    let id = dictionary(&source, "const id = {")?;
    let en = dictionary(&source, "const en: Record<Key, string> = {")?;
    Ok(en.difference(&id).cloned().collect())
}

/// Runs in the page: what is wrong with the screen as it is now. Controls
/// are those a cashier can click or type into; under an open dialog only
/// the dialog's count. A control is wrong when it is partly outside the
/// window, when the point at its centre belongs to something else (it is
/// covered or scrolled out of its box), or when it overlaps another.
const CHECK: &str = r#"
const [english, lang] = arguments;
const vw = window.innerWidth, vh = window.innerHeight;
const describe = (e) => {
  const id = e.getAttribute('data-testid');
  const text = (e.textContent || e.getAttribute('placeholder') || e.value || '').trim().replace(/\s+/g, ' ').slice(0, 30);
  return `${e.tagName.toLowerCase()}${id ? `[${id}]` : ''} "${text}"`;
};
const visible = (e) => {
  const r = e.getBoundingClientRect();
  const s = getComputedStyle(e);
  return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none' && !e.closest('[hidden]');
};
const modals = [...document.querySelectorAll('.modal')].filter(visible);
const scope = modals.length ? modals[modals.length - 1] : document.body;
const controls = [...scope.querySelectorAll('button, input, select, textarea, a[href], [role="button"], [role="radio"]')]
  .filter(visible);
const problems = [];
const rects = controls.map((e) => e.getBoundingClientRect());
controls.forEach((e, i) => {
  const r = rects[i];
  if (r.left < -0.5 || r.top < -0.5 || r.right > vw + 0.5 || r.bottom > vh + 0.5) {
    problems.push(`${describe(e)} lies outside the ${vw}x${vh} window (${Math.round(r.left)},${Math.round(r.top)}-${Math.round(r.right)},${Math.round(r.bottom)})`);
    return;
  }
  const x = Math.min(Math.max(r.left + r.width / 2, 0), vw - 1), y = Math.min(Math.max(r.top + r.height / 2, 0), vh - 1);
  const at = document.elementFromPoint(x, y);
  if (at && at !== e && !e.contains(at) && !at.contains(e)) {
    problems.push(`${describe(e)} is covered by ${describe(at)}`);
  }
});
for (let i = 0; i < controls.length; i++) {
  for (let j = i + 1; j < controls.length; j++) {
    const a = controls[i], b = controls[j];
    if (a.contains(b) || b.contains(a)) continue;
    const p = rects[i], q = rects[j];
    const w = Math.min(p.right, q.right) - Math.max(p.left, q.left);
    const h = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
    if (w > 1 && h > 1) problems.push(`${describe(a)} overlaps ${describe(b)}`);
  }
}
if (lang === 'id') {
  const words = new Set(english);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim();
    if (text && words.has(text) && n.parentElement && visible(n.parentElement)) {
      problems.push(`English on an Indonesian screen: "${text}" in ${describe(n.parentElement)}`);
    }
  }
}
return problems;
"#;

struct Walk<'a> {
    app: &'a App,
    english: Value,
    lang: &'static str,
    size: (u32, u32),
    problems: Vec<String>,
    screens: Vec<String>,
}

impl Walk<'_> {
    /// Check the screen as it is now, once `testid` shows.
    async fn check(&mut self, screen: &str, testid: &str) -> Result<()> {
        self.app.el_within(testid, Duration::from_secs(20)).await?;
        // Let the layout settle (fonts, a dialog's first frame).
        self.app
            .wait_js(
                "document.fonts.status === 'loaded'",
                Duration::from_secs(10),
            )
            .await?;
        let found = self
            .app
            .client
            .execute(CHECK, vec![self.english.clone(), json!(self.lang)])
            .await?;
        let found: Vec<String> = serde_json::from_value(found)?;
        let (w, h) = self.size;
        self.problems
            .extend(found.into_iter().map(|p| format!("{w}x{h} {screen}: {p}")));
        self.screens.push(screen.to_owned());
        Ok(())
    }

    async fn keys(&self, testid: &str, keys: &str) -> Result<()> {
        self.app.type_into(testid, keys).await
    }

    /// Esc to the focused control until the dialog `testid` is gone.
    async fn dismiss(&self, testid: &str, presses: usize) -> Result<()> {
        for _ in 0..presses {
            self.app
                .client
                .active_element()
                .await?
                .send_keys(ESCAPE)
                .await?;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.app.wait_count(testid, 0, Duration::from_secs(5)).await
    }
}

/// A fresh trial till, walked screen by screen at `size`.
async fn walk(size: (u32, u32), english: &[String]) -> Result<(Vec<String>, Vec<String>)> {
    let data = tempfile::tempdir()?;
    let app = App::launch(&Launch {
        data_dir: data.path().join("till"),
        printer: None,
    })
    .await?;
    app.client.set_window_size(size.0, size.1).await?;
    let inner = app
        .wait_js(
            &format!(
                "window.innerWidth === {} && window.innerHeight <= {} && window.innerHeight >= {}",
                size.0,
                size.1,
                size.1 - 40
            ),
            Duration::from_secs(10),
        )
        .await
        .map(|_| ());
    if let Err(e) = inner {
        let got = app
            .client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await?;
        bail!("the window did not take {size:?} (it is {got}): {e}");
    }
    let mut w = Walk {
        app: &app,
        english: json!(english),
        lang: "id",
        size,
        problems: Vec::new(),
        screens: Vec::new(),
    };

    // The language is the web view's, kept across launches: start in
    // Indonesian whatever an earlier run left.
    app.el("setup-screen").await?;
    if app.text("lang-toggle").await?.contains("EN") {
        app.click("lang-toggle").await?;
    }
    w.check("setup", "setup-screen").await?;
    app.fill("trial-name", "T01").await?;
    app.fill("trial-supervisor", "Budi").await?;
    app.fill("trial-pin", PIN).await?;
    app.fill("trial-pin2", PIN).await?;
    app.click("setup-trial").await?;

    w.check("sign-in", "pin-screen").await?;
    app.fill("pin-input", PIN).await?;
    app.click("pin-submit").await?;

    w.check("open shift", "open-shift-screen").await?;
    app.fill("open-shift-float", "100000").await?;
    app.click("open-shift-submit").await?;

    w.check("empty sale", "sale-screen").await?;
    for code in ["8998866200301", "8886008101053", "8993675020145"] {
        w.keys("scan-input", &format!("{code}{ENTER}")).await?;
    }
    app.wait_count("cart-line", 3, Duration::from_secs(10))
        .await?;
    w.check("sale with lines", "cart-line").await?;
    // Typed as a person types (a scanner's burst does not search).
    for ch in ["i", "n", "d", "o"] {
        w.keys("scan-input", ch).await?;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    w.check("search", "search-results").await?;
    w.keys("scan-input", ESCAPE).await?;

    app.click("tender-button").await?;
    for method in ["card", "qris", "voucher", "cash"] {
        app.click(&format!("tender-method-{method}")).await?;
        w.check(&format!("tender {method}"), "tender-screen")
            .await?;
    }
    let pending = "Number(document.querySelector('[data-testid=\"sync-pending\"]')?.dataset.count)";
    let before = app.wait_js(pending, Duration::from_secs(5)).await?;
    app.fill("tender-amount", "20000").await?;
    app.click("tender-pay").await?;
    w.check("sale done", "done-screen").await?;
    // The sale is pending at once, on a trial till too (the slow poll is
    // 15 s; the pay command itself reports it).
    app.wait_js(
        &format!("{pending} === {before} + 1"),
        Duration::from_secs(5),
    )
    .await
    .context("the pending count did not follow the sale")?;
    app.click("next-sale").await?;

    w.keys("scan-input", F8).await?;
    w.check("receipt, void, refund", "receipt-dialog").await?;
    app.click("receipt-last").await?;
    app.click("receipt-lookup").await?;
    w.check("receipt looked up", "receipt-status").await?;
    app.click("receipt-refund").await?;
    w.check("refund", "refund-form").await?;
    w.keys("void-receipt-input", ESCAPE).await?;
    app.wait_count("receipt-dialog", 0, Duration::from_secs(5))
        .await?;

    w.keys("scan-input", F7).await?;
    w.check("held sales", "parked-dialog").await?;
    w.dismiss("parked-dialog", 1).await?;

    w.keys("scan-input", F10).await?;
    w.check("undelivered", "undelivered").await?;
    w.dismiss("undelivered", 1).await?;

    w.keys("scan-input", F11).await?;
    w.check("settings", "settings-dialog").await?;
    w.dismiss("settings-dialog", 1).await?;

    app.click("menu-button").await?;
    w.check("menu", "shift-menu").await?;
    app.click("menu-cash-in").await?;
    w.check("cash in", "cash-move-amount").await?;
    // Esc goes back to the menu, and again closes it.
    w.dismiss("shift-menu", 2).await?;

    app.click("menu-button").await?;
    app.click("menu-no-sale").await?;
    w.check("no sale", "no-sale-reason").await?;
    w.dismiss("shift-menu", 2).await?;

    app.click("menu-button").await?;
    app.click("menu-x-report").await?;
    w.check("X report", "report").await?;
    app.click("report-close").await?;

    app.click("menu-button").await?;
    app.click("menu-lock").await?;
    w.check("locked", "lock-screen").await?;
    app.fill("pin-input", PIN).await?;
    app.click("pin-submit").await?;

    app.el("sale-screen").await?;
    app.click("menu-button").await?;
    app.click("menu-close-shift").await?;
    w.check("close shift", "close-shift-counted").await?;
    app.fill("close-shift-counted", "120500").await?;
    app.click("close-shift-submit").await?;
    // With records not at head office yet, closing asks first.
    app.wait_js(
        "document.querySelector('[data-testid=\"close-shift-confirm\"], [data-testid=\"report\"]')",
        Duration::from_secs(20),
    )
    .await?;
    if app.exists("close-shift-confirm").await? {
        w.check("close shift, undelivered", "close-shift-confirm")
            .await?;
        app.click("close-shift-confirm").await?;
    }
    w.check("Z report", "report").await?;

    // The check sees English when there is some: the next screen, switched
    // to English, fails it.
    app.click("report-close").await?;
    app.wait_count("report", 0, Duration::from_secs(5)).await?;
    app.click("lang-toggle").await?;
    app.el("open-shift-screen").await?;
    let english_seen = app
        .client
        .execute(CHECK, vec![w.english.clone(), json!("id")])
        .await?;
    let english_seen: Vec<String> = serde_json::from_value(english_seen)?;
    ensure!(
        english_seen
            .iter()
            .any(|p| p.starts_with("English on an Indonesian screen")),
        "the English screen passed the Indonesian check: {english_seen:?}"
    );
    app.click("lang-toggle").await?;

    let (problems, screens) = (w.problems, w.screens);
    app.quit().await?;
    Ok((problems, screens))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_screen_fits_1366x768_and_1024x768_with_nothing_hidden_and_no_english() -> Result<()>
{
    let english = english_only()?;
    let mut all = Vec::new();
    for size in [(1366, 768), (1024, 768)] {
        let (problems, screens) = walk(size, &english).await?;
        ensure!(screens.len() >= 20, "walked only {screens:?}");
        all.extend(problems);
    }
    ensure!(
        all.is_empty(),
        "{} problems:\n{}",
        all.len(),
        all.join("\n")
    );
    Ok(())
}

#[test]
fn the_word_tables_are_read() -> Result<()> {
    let english = english_only()?;
    assert!(english.iter().any(|w| w == "Pay"), "{english:?}");
    assert!(!english.iter().any(|w| w == "QRIS"), "the same in both");
    Ok(())
}
