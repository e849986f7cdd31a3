//! The head-office catalog at 100,000 products: the page's CSV import of the
//! whole catalog (upload and preview, then apply), a re-import that changes
//! 1 % of the prices, and the catalog pages over it (first page, a deep
//! page, searches by name, SKU prefix and barcode, a product with its price
//! history). The real server in-process, real HTTP over loopback, signed in
//! through the real form. Figures printed, never asserted. Run with
//!
//! ```text
//! cargo bench -p sentra-sync --bench catalog              # 100,000 products
//! cargo bench -p sentra-sync --bench catalog -- --quick   # 5,000
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use sentra_sync::config::{RulesConfig, ServeConfig};

const ADMIN: &str = "admin@bench.example";
const PASSWORD: &str = "bench-password-0001";
const REQUESTS: usize = 20;
const WARMUP: usize = 3;

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The catalog CSV of `n` products; every `reprice`-th price moved by 500.
fn catalog(n: usize, reprice: Option<usize>) -> String {
    let words = [
        "Kopi", "Teh", "Gula", "Beras", "Sabun", "Susu", "Roti", "Mie", "Air", "Kecap",
    ];
    let classes = ["standard", "standard", "standard", "exempt", "luxury"];
    let mut s = String::from("sku,barcode,name,price,tax_category,stock,category,unit\n");
    for i in 0..n {
        let w = words[i % words.len()];
        let mut price = 1_000 + (i as i64 % 997) * 100;
        if reprice.is_some_and(|k| i % k == 0) {
            price += 500;
        }
        s.push_str(&format!(
            "P{i:06},899{i:010},{w} Merek {i} {}g,{price},{},,{w},{}\n",
            100 + i % 900,
            classes[i % classes.len()],
            if i % 20 == 0 { "weighed" } else { "unit" }
        ));
    }
    s
}

struct Session {
    http: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

fn cookie_of(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.to_owned())
}

fn field(page: &str, name: &str) -> Option<String> {
    page.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned)
}

async fn sign_in(base: &str) -> Result<Session> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(600))
        .build()?;
    let resp = http.get(format!("{base}/office/signin")).send().await?;
    let signin = cookie_of(&resp, "sentra_office_signin").context("no sign-in cookie")?;
    let page = resp.text().await?;
    let csrf = field(&page, "csrf").context("no csrf field")?;
    let resp = http
        .post(format!("{base}/office/signin"))
        .header(
            reqwest::header::COOKIE,
            format!("sentra_office_signin={signin}"),
        )
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", ADMIN),
            ("password", PASSWORD),
            ("next", "/office"),
        ])
        .send()
        .await?;
    let session = cookie_of(&resp, "sentra_office").context("no session cookie")?;
    let cookie = format!("sentra_office={session}");
    // The session's own CSRF token, from any page's forms.
    let page = http
        .get(format!("{base}/office/catalog"))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await?
        .text()
        .await?;
    let csrf = field(&page, "csrf").context("no session csrf")?;
    Ok(Session {
        http,
        base: base.to_owned(),
        cookie,
        csrf,
    })
}

impl Session {
    async fn get(&self, path: &str) -> Result<(Duration, String)> {
        let t = Instant::now();
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, &self.cookie)
            .send()
            .await?;
        let status = resp.status();
        let body = resp.text().await?;
        ensure!(status.is_success(), "GET {path}: {status}");
        Ok((t.elapsed(), body))
    }

    /// Upload (multipart, as the page's form does) and apply; the two times.
    async fn import(&self, csv: &str) -> Result<(Duration, Duration, String)> {
        let boundary = "sentra-bench-boundary-7f3a";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"catalog.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n",
            self.csrf
        )
        .into_bytes();
        body.extend_from_slice(csv.as_bytes());
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let t = Instant::now();
        let resp = self
            .http
            .post(format!("{}/office/catalog/import", self.base))
            .header(reqwest::header::COOKIE, &self.cookie)
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await?;
        let status = resp.status();
        let page = resp.text().await?;
        let preview = t.elapsed();
        ensure!(
            status.is_success(),
            "upload: {status}: {}",
            &page[..page.len().min(2000)]
        );
        let summary = page
            .split("id=\"summary\">")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap_or("?")
            .to_owned();
        let action = page
            .split("action=\"/office/catalog/import/")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .context("no apply form")?
            .to_owned();
        let t = Instant::now();
        let resp = self
            .http
            .post(format!("{}/office/catalog/import/{action}", self.base))
            .header(reqwest::header::COOKIE, &self.cookie)
            .form(&[("csrf", self.csrf.as_str())])
            .send()
            .await?;
        ensure!(
            resp.status() == reqwest::StatusCode::SEE_OTHER,
            "apply: {}",
            resp.status()
        );
        Ok((preview, t.elapsed(), summary))
    }
}

async fn run(n: usize) -> Result<()> {
    let db = sentra_pg_harness::BenchDatabase::open("catalog_bench")?;
    println!("catalog bench: {n} products; database: {}", db.describe());
    let config = ServeConfig {
        database_url: db.url().to_owned(),
        listen: "127.0.0.1:0".parse()?,
        max_connections: 8,
        rules: RulesConfig::default(),
        sweep_interval: Duration::from_secs(3600),
        fold_interval: Duration::from_secs(5),
        shutdown_grace: Duration::from_secs(30),
        limits: Default::default(),
        office: Default::default(),
    };
    let running = sentra_sync::http::start(&config).await?;
    let base = format!("http://{}", running.addr);
    let pool = sentra_sync::db::connect(db.url(), 2).await?;
    for (code, tz) in [("B01", "Asia/Jakarta"), ("B02", "Asia/Makassar")] {
        sentra_sync::admin::branch::create(&pool, code, code, tz).await?;
    }
    sentra_office::users::add(&pool, ADMIN, "admin", &[], PASSWORD).await?;
    let s = sign_in(&base).await?;

    let csv = catalog(n, None);
    println!(
        "\n{:<44} {:>10} {:>10}  result",
        "import", "preview ms", "apply ms"
    );
    let (preview, apply, summary) = s.import(&csv).await?;
    println!(
        "{:<44} {:>10} {:>10}  {summary}",
        format!(
            "whole catalog, new ({:.1} MiB)",
            csv.len() as f64 / 1048576.0
        ),
        ms(preview),
        ms(apply)
    );
    let (preview, apply, summary) = s.import(&catalog(n, Some(100))).await?;
    println!(
        "{:<44} {:>10} {:>10}  {summary}",
        "whole catalog again, 1 % of prices changed",
        ms(preview),
        ms(apply)
    );
    sqlx::raw_sql("VACUUM (ANALYZE) products, prices")
        .execute(&pool)
        .await?;

    let deep = n / 50 / 2;
    let cases: Vec<(String, String)> = vec![
        ("catalog, first page".into(), "/office/catalog".into()),
        (
            format!("catalog, page {deep}"),
            format!("/office/catalog?page={deep}"),
        ),
        (
            "search by name (\"kopi merek 12\")".into(),
            "/office/catalog?q=kopi+merek+12".into(),
        ),
        (
            "search by SKU prefix (\"P0123\")".into(),
            "/office/catalog?q=P0123".into(),
        ),
        (
            "search by barcode (exact)".into(),
            format!("/office/catalog?q=899{:010}", n / 3),
        ),
        (
            "product page with price history".into(),
            format!("/office/catalog/item/P{:06}", 0),
        ),
    ];
    println!(
        "\n{:<44} {:>8} {:>8} {:>8}  ({REQUESTS} requests after {WARMUP} warm-up)",
        "page", "p50 ms", "p95 ms", "max ms"
    );
    for (name, path) in &cases {
        let mut samples = Vec::new();
        for i in 0..WARMUP + REQUESTS {
            let (took, _) = s.get(path).await?;
            if i >= WARMUP {
                samples.push(took);
            }
        }
        samples.sort_unstable();
        println!(
            "{name:<44} {:>8} {:>8} {:>8}",
            ms(percentile(&samples, 0.5)),
            ms(percentile(&samples, 0.95)),
            ms(*samples.last().unwrap_or(&Duration::ZERO))
        );
    }
    running.stop().await?;
    Ok(())
}

fn main() -> ExitCode {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 5_000 } else { 100_000 };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("catalog bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(n)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("catalog bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
