//! `sentra-sync`: the cloud sync server and its admin commands.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use sentra_keystore::KeyStoreKind;
use sentra_protocol::wire::DeviceKind;
use sentra_sync::admin;
use sentra_sync::config::{RulesConfig, ServeConfig};
use sentra_sync::relay::RelayConfig;
use sentra_sync::relay::identity::KeyChoice;
use sentra_sync::relay::service;
use uuid::Uuid;

#[derive(Parser)]
#[command(
    name = "sentra-sync",
    version,
    about = "Sentra POS sync server and admin commands"
)]
struct Cli {
    /// PostgreSQL URL of the cloud database.
    #[arg(long, env = "DATABASE_URL", global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    Terminal,
    Relay,
}

#[derive(Clone, Copy, ValueEnum)]
enum KeyStoreArg {
    /// Windows Credential Manager, macOS Keychain, or the Secret Service on Linux.
    Os,
    /// Linux kernel session keyring: lost at logout/reboot (tests only).
    Keyutils,
    /// A key file (e.g. a systemd credential).
    File,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum LogFormat {
    Json,
    Text,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the sync API (migrates the database first).
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[arg(long, default_value_t = 16)]
        max_connections: u32,
        /// A device clock off by more than this many seconds is clock_skew.
        #[arg(long, default_value_t = 120)]
        skew_tolerance_secs: u64,
        /// Raise orphan_reference after a void/refund waited this long for its sale.
        #[arg(long, default_value_t = 86_400)]
        orphan_grace_secs: u64,
        /// How often to look for orphans past their grace, in milliseconds.
        #[arg(long, default_value_t = 60_000)]
        sweep_interval_ms: u64,
        /// How often to fold pushed sums into the report summaries, in milliseconds.
        #[arg(long, default_value_t = 5_000)]
        fold_interval_ms: u64,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        office: OfficeArgs,
        #[arg(long, value_enum, default_value = "json")]
        log_format: LogFormat,
    },
    /// Run the branch relay: takes the branch terminals' pushes over the LAN,
    /// keeps them in an encrypted journal, forwards them to the cloud, and
    /// serves the cached master data.
    Relay(Box<RelayArgs>),
    /// Apply the database migrations and exit.
    Migrate,
    /// Branches.
    Branch {
        #[command(subcommand)]
        command: BranchCommand,
    },
    /// Make a one-time enrollment code; prints the code alone on stdout.
    EnrollCode {
        #[arg(long)]
        branch: String,
        #[arg(long, value_enum, default_value = "terminal")]
        kind: KindArg,
        /// Minutes until the code expires.
        #[arg(long, default_value_t = 1440)]
        ttl_minutes: u64,
    },
    /// Enrolled devices.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// Prices that terminals pull.
    Price {
        #[command(subcommand)]
        command: PriceCommand,
    },
    /// The catalog that terminals pull.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Cashier users (PINs are stored as Argon2id hashes).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Head-office users of the `/office` pages (passwords stored as Argon2id hashes).
    OfficeUser {
        #[command(subcommand)]
        command: OfficeUserCommand,
    },
    /// A branch's reconciled totals.
    Ledger {
        #[arg(long)]
        branch: String,
        /// First business date (YYYY-MM-DD), inclusive.
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last business date (YYYY-MM-DD), inclusive.
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum BranchCommand {
    /// Create a branch and its ledger partitions.
    Create {
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        timezone: String,
    },
    List,
}

#[derive(Subcommand)]
enum DeviceCommand {
    List {
        #[arg(long)]
        branch: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Refuse this device's credential and entries from now on.
    Revoke { device_id: Uuid },
}

#[derive(Subcommand)]
enum PriceCommand {
    /// Set an item's price (chain-wide, or for one branch).
    Set {
        sku: String,
        /// Whole rupiah.
        price: i64,
        #[arg(long)]
        branch: Option<String>,
        /// RFC 3339 time the price takes effect (default: now).
        #[arg(long)]
        effective_from: Option<chrono::DateTime<chrono::Utc>>,
    },
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Import a catalog CSV (sku,barcode,name,price,tax_category,stock).
    Import {
        file: PathBuf,
        /// Also set this branch's stock from the stock column.
        #[arg(long)]
        branch: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a cashier or supervisor of one branch (or, said explicitly, of
    /// every branch: their PIN hash then goes to every till of the chain).
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        pin: String,
        #[arg(long, required_unless_present = "all_branches")]
        branch: Option<String>,
        #[arg(long, conflicts_with = "branch")]
        all_branches: bool,
        #[arg(long, default_value = "cashier")]
        role: String,
    },
}

/// Settings of the head-office pages under `/office`.
#[derive(clap::Args)]
struct OfficeArgs {
    /// Mark the session cookie `Secure`: set this when browsers reach the
    /// server over HTTPS (e.g. behind a TLS-terminating load balancer).
    #[arg(long, env = "SENTRA_OFFICE_SECURE_COOKIES")]
    office_secure_cookies: bool,
    /// A session unused this many minutes ends.
    #[arg(long, default_value_t = sentra_office::DEFAULT_IDLE_MINUTES)]
    office_idle_minutes: u64,
    /// A session ends this many hours after sign-in, used or not.
    #[arg(long, default_value_t = sentra_office::DEFAULT_SESSION_HOURS)]
    office_session_hours: u64,
    /// Take the client address (audit log, sign-in throttle) from
    /// `X-Forwarded-For`: only behind a proxy that sets it.
    #[arg(long)]
    office_trust_forwarded_for: bool,
    /// Highlight a shift whose cash variance passes this many rupiah.
    #[arg(long, default_value_t = sentra_office::DEFAULT_VARIANCE_THRESHOLD)]
    office_variance_threshold: i64,
}

impl OfficeArgs {
    fn config(&self) -> sentra_office::OfficeConfig {
        sentra_office::OfficeConfig {
            secure_cookies: self.office_secure_cookies,
            idle_timeout: Duration::from_secs(self.office_idle_minutes.max(1) * 60),
            absolute_timeout: Duration::from_secs(self.office_session_hours.max(1) * 3600),
            trust_forwarded_for: self.office_trust_forwarded_for,
            variance_threshold: self.office_variance_threshold.max(0),
            ..Default::default()
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum OfficeRoleArg {
    /// Everything.
    Admin,
    /// Every branch; resolves conflicts.
    Finance,
    /// The branches given with --branch, read only.
    Manager,
    /// Every branch and the audit log, read only.
    Auditor,
}

#[derive(Subcommand)]
enum OfficeUserCommand {
    /// Add an office user, or reset an existing one's role, branches and
    /// password (ending their sessions). The password is read from the first
    /// line of stdin, never from the command line:
    /// `printf '%s\n' "$PASSWORD" | sentra-sync office-user add EMAIL --role finance`
    Add {
        email: String,
        #[arg(long, value_enum)]
        role: OfficeRoleArg,
        /// A branch a manager sees (repeat for several); managers only.
        #[arg(long = "branch")]
        branches: Vec<String>,
    },
}

/// `sentra-sync relay`.
#[derive(clap::Args)]
struct RelayArgs {
    /// The relay's data dir (manifest + encrypted journal).
    #[arg(long, env = "SENTRA_RELAY_DATA_DIR")]
    data_dir: PathBuf,
    /// The cloud sync server, e.g. https://sync.example.com
    #[arg(long, env = "SENTRA_RELAY_UPSTREAM")]
    upstream: String,
    /// Address the terminals reach the relay on.
    #[arg(long, default_value = "0.0.0.0:8090", env = "SENTRA_RELAY_LISTEN")]
    listen: SocketAddr,
    /// One-time code from `sentra-sync enroll-code --kind relay` (first run only; ignored once enrolled).
    #[arg(long, env = "SENTRA_RELAY_ENROLL_CODE")]
    enroll_code: Option<String>,
    /// A name people recognise.
    #[arg(long, default_value = "Branch relay")]
    name: String,
    /// Where to keep the database key of a new relay (default: the OS keyring, else a key file).
    #[arg(long, value_enum, env = "SENTRA_KEY_STORE")]
    key_store: Option<KeyStoreArg>,
    /// The key file; if it exists at setup its key is used (a systemd credential).
    #[arg(long, env = "SENTRA_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// Entries per batch forwarded to the cloud.
    #[arg(long, default_value_t = 1000)]
    forward_batch: usize,
    /// Seconds between refreshes of the cached master data and device list.
    #[arg(long, default_value_t = 10)]
    refresh_secs: u64,
    #[command(flatten)]
    limits: LimitArgs,
    #[arg(long, value_enum, default_value = "json")]
    log_format: LogFormat,
    /// Run under the Windows service manager, as the relay's .msi installs
    /// it: settings not on the command line come from the registry
    /// (HKLM\Software\Sentra\Sentra POS Relay), logs go to the data dir.
    #[arg(long)]
    windows_service: bool,
}

impl RelayArgs {
    fn config(self) -> RelayConfig {
        let mut config = RelayConfig::new(self.data_dir, self.upstream, self.listen);
        // An empty code (an installer given none) is no code.
        config.enroll_code = self.enroll_code.filter(|c| !c.trim().is_empty());
        config.name = self.name;
        config.keys = KeyChoice {
            store: self.key_store.map(|k| match k {
                KeyStoreArg::Os => KeyStoreKind::Os,
                KeyStoreArg::Keyutils => KeyStoreKind::Keyutils,
                KeyStoreArg::File => KeyStoreKind::File,
            }),
            file: self.key_file,
        };
        config.forward_batch = self.forward_batch;
        config.refresh_interval = Duration::from_secs(self.refresh_secs.max(1));
        config.limits = self.limits.limits();
        config
    }
}

/// The first line of stdin, without its line ending.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let pw = line.trim_end_matches(['\n', '\r']).to_owned();
    anyhow::ensure!(
        !pw.is_empty(),
        "no password on stdin: pipe it in, e.g. printf '%s\\n' \"$PASSWORD\" | sentra-sync office-user add …"
    );
    Ok(pw)
}

/// Logs to stderr (text or JSON, filtered by `RUST_LOG`, `info` by
/// default), and traces to OpenTelemetry when `OTEL_EXPORTER_OTLP_ENDPOINT`
/// is set (spans at `info` and above). Keep the guard until exit: dropping
/// it flushes the traces.
fn init_logging(format: LogFormat, service: &'static str) -> sentra_sync::telemetry::Guard {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = if format == LogFormat::Json {
        logs.json()
            .flatten_event(true)
            .with_current_span(true)
            .with_filter(filter)
            .boxed()
    } else {
        logs.with_filter(filter).boxed()
    };
    let (traces, guard) = sentra_sync::telemetry::layer(service);
    tracing_subscriber::registry()
        .with(logs)
        .with(traces.map(|t| t.with_filter(tracing_subscriber::filter::LevelFilter::INFO)))
        .init();
    guard
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn run_relay(args: Box<RelayArgs>) -> anyhow::Result<()> {
    let _traces = init_logging(args.log_format, "sentra-relay");
    let config = args.config();
    let running = sentra_sync::relay::start(&config).await?;
    tracing::info!(addr = %running.addr, branch = %running.relay.branch, "sentra-sync relay listening");
    println!("listening on http://{}", running.addr);
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    running.stop().await?;
    Ok(())
}

async fn pool(url: &Option<String>) -> anyhow::Result<sqlx::PgPool> {
    let url = url
        .as_deref()
        .context("no database: pass --database-url or set DATABASE_URL")?;
    let pool = sentra_sync::db::connect(url, 4)
        .await
        .context("cannot connect to the database")?;
    sentra_sync::db::migrate(&pool)
        .await
        .context("cannot migrate the database")?;
    Ok(pool)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            listen,
            max_connections,
            skew_tolerance_secs,
            orphan_grace_secs,
            sweep_interval_ms,
            fold_interval_ms,
            limits,
            office,
            log_format,
        } => {
            let _traces = init_logging(log_format, "sentra-sync");
            let config = ServeConfig {
                database_url: cli
                    .database_url
                    .context("no database: pass --database-url or set DATABASE_URL")?,
                listen,
                max_connections,
                rules: RulesConfig {
                    skew_tolerance: Duration::from_secs(skew_tolerance_secs),
                    orphan_grace: Duration::from_secs(orphan_grace_secs),
                },
                sweep_interval: Duration::from_millis(sweep_interval_ms.max(10)),
                fold_interval: Duration::from_millis(fold_interval_ms.max(10)),
                shutdown_grace: Duration::from_secs(30),
                limits: limits.limits(),
                office: office.config(),
            };
            let running = sentra_sync::http::start(&config).await?;
            tracing::info!(addr = %running.addr, "sentra-sync listening");
            // A line on stdout for scripts that wait for readiness.
            println!("listening on http://{}", running.addr);
            shutdown_signal().await;
            tracing::info!("shutting down: finishing in-flight requests");
            running.stop().await?;
            tracing::info!("stopped");
        }
        Command::Relay(args) => run_relay(args).await?,
        Command::Migrate => {
            pool(&cli.database_url).await?;
            println!("migrations applied");
        }
        Command::Branch { command } => {
            let pool = pool(&cli.database_url).await?;
            match command {
                BranchCommand::Create {
                    code,
                    name,
                    timezone,
                } => {
                    let b = admin::branch::create(&pool, &code, &name, &timezone).await?;
                    println!("branch {} created ({}, {})", b.code, b.name, b.timezone);
                }
                BranchCommand::List => {
                    for b in admin::branch::list(&pool).await? {
                        println!("{}\t{}\t{}", b.code, b.name, b.timezone);
                    }
                }
            }
        }
        Command::EnrollCode {
            branch,
            kind,
            ttl_minutes,
        } => {
            let pool = pool(&cli.database_url).await?;
            let kind = match kind {
                KindArg::Terminal => DeviceKind::Terminal,
                KindArg::Relay => DeviceKind::Relay,
            };
            let code = admin::enroll_code::create(
                &pool,
                &branch,
                kind,
                Duration::from_secs(ttl_minutes.saturating_mul(60)),
            )
            .await?;
            println!("{code}");
        }
        Command::Device { command } => {
            let pool = pool(&cli.database_url).await?;
            match command {
                DeviceCommand::List { branch, json } => {
                    let devices = admin::devices::list(&pool, branch.as_deref()).await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&devices)?);
                    } else {
                        for d in devices {
                            let state = match (&d.revoked_at, &d.flagged) {
                                (Some(_), _) => "revoked",
                                (None, Some(_)) => "flagged",
                                _ => "active",
                            };
                            println!(
                                "{}\t{}\t{}\t{}\t{}\tseq {}",
                                d.device_id, d.branch, d.kind, d.name, state, d.acked_seq
                            );
                        }
                    }
                }
                DeviceCommand::Revoke { device_id } => {
                    admin::devices::revoke(&pool, device_id).await?;
                    println!("device {device_id} revoked");
                }
            }
        }
        Command::Price { command } => {
            let pool = pool(&cli.database_url).await?;
            match command {
                PriceCommand::Set {
                    sku,
                    price,
                    branch,
                    effective_from,
                } => {
                    admin::prices::set(&pool, &sku, price, branch.as_deref(), effective_from)
                        .await?;
                    println!("price of {sku} set to {price}");
                }
            }
        }
        Command::Catalog { command } => {
            let pool = pool(&cli.database_url).await?;
            match command {
                CatalogCommand::Import { file, branch } => {
                    let s = admin::catalog::import(&pool, &file, branch.as_deref()).await?;
                    println!(
                        "imported {} products, {} prices, {} stock levels",
                        s.products, s.prices, s.stock_levels
                    );
                }
            }
        }
        Command::User { command } => {
            let pool = pool(&cli.database_url).await?;
            match command {
                UserCommand::Add {
                    name,
                    pin,
                    branch,
                    all_branches: _,
                    role,
                } => {
                    let id =
                        admin::users::add(&pool, branch.as_deref(), &name, &pin, &role).await?;
                    println!("{id}");
                }
            }
        }
        Command::OfficeUser { command } => {
            let pool = pool(&cli.database_url).await?;
            match command {
                OfficeUserCommand::Add {
                    email,
                    role,
                    branches,
                } => {
                    let role = match role {
                        OfficeRoleArg::Admin => "admin",
                        OfficeRoleArg::Finance => "finance",
                        OfficeRoleArg::Manager => "manager",
                        OfficeRoleArg::Auditor => "auditor",
                    };
                    let password = password_from_stdin()?;
                    let id = sentra_office::users::add(&pool, &email, role, &branches, &password)
                        .await?;
                    println!("{id}");
                }
            }
        }
        Command::Ledger {
            branch,
            from,
            to,
            json,
        } => {
            let pool = pool(&cli.database_url).await?;
            let l = admin::ledger::ledger(&pool, &branch, from, to).await?;
            if json {
                println!("{}", serde_json::to_string(&l)?);
            } else {
                print!("{}", l.to_text());
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.iter().any(|a| a == "--windows-service") {
        args = service::with_settings(args, service::registry_settings());
    }
    let cli = Cli::parse_from(args);
    // The service manager starts its own thread for the service: no
    // runtime here.
    match cli.command {
        Command::Relay(relay) if relay.windows_service => run_windows_service(*relay),
        command => block_on(run(Cli { command, ..cli })),
    }
}

#[cfg(windows)]
fn run_windows_service(relay: RelayArgs) -> ExitCode {
    service::run(relay.config())
}

#[cfg(not(windows))]
fn run_windows_service(_: RelayArgs) -> ExitCode {
    eprintln!(
        "sentra-sync: --windows-service is for Windows; here the relay runs under \
         systemd (installer/sentra-relay.service) or in a console without the flag"
    );
    ExitCode::FAILURE
}

fn block_on(work: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sentra-sync: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sentra-sync: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What a slow or idle client may hold of a server (`serve`, `relay`).
#[derive(clap::Args, Debug)]
struct LimitArgs {
    /// Client connections at once; past it the server stops accepting until one closes.
    #[arg(long, default_value_t = 4096)]
    max_client_connections: usize,
    /// A client that does not send a whole request head within this many
    /// seconds (connected and silent, or idle between requests) is disconnected.
    #[arg(long, default_value_t = 10)]
    header_read_timeout_secs: u64,
    /// Requests in flight at once; past it a request gets 429 busy at once
    /// (with Retry-After).
    #[arg(long, default_value_t = 512)]
    max_in_flight: usize,
    /// Pushes working on the database at once; keep it below
    /// --max-connections so pulls still get a connection.
    #[arg(long, default_value_t = 12)]
    max_concurrent_pushes: usize,
    /// Pushes waiting, in order, for their turn; past it a push gets 429
    /// busy at once (with Retry-After).
    #[arg(long, default_value_t = 256)]
    max_queued_pushes: usize,
    /// A request still running after this many seconds gets 503 timeout.
    #[arg(long, default_value_t = 60)]
    request_timeout_secs: u64,
}

impl LimitArgs {
    fn limits(&self) -> sentra_sync::http::listen::Limits {
        sentra_sync::http::listen::Limits {
            max_connections: self.max_client_connections.max(1),
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs.max(1)),
            max_in_flight: self.max_in_flight.max(1),
            request_timeout: Duration::from_secs(self.request_timeout_secs.max(1)),
            max_concurrent_pushes: self.max_concurrent_pushes.max(1),
            max_queued_pushes: self.max_queued_pushes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the relay's .msi writes, as `service::registry_settings` reads it.
    fn installed(name: &str) -> Option<String> {
        match name {
            "Upstream" => Some("https://sync.example.com".into()),
            "Listen" => Some("0.0.0.0:8090".into()),
            "DataDir" => Some(r"C:\ProgramData\Sentra\Relay".into()),
            "EnrollCode" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn the_service_s_command_line_and_the_registry_make_a_relay() -> anyhow::Result<()> {
        let args = ["sentra-sync", "relay", "--windows-service"].map(std::ffi::OsString::from);
        let cli = Cli::try_parse_from(service::with_settings(args.to_vec(), installed))?;
        let Command::Relay(relay) = cli.command else {
            anyhow::bail!("not the relay");
        };
        assert!(relay.windows_service);
        let config = relay.config();
        assert_eq!(config.upstream, "https://sync.example.com");
        assert_eq!(config.listen.port(), 8090);
        assert_eq!(
            config.data_dir,
            std::path::PathBuf::from(r"C:\ProgramData\Sentra\Relay")
        );
        assert_eq!(config.enroll_code, None, "an empty code is no code");
        Ok(())
    }

    #[test]
    fn a_service_with_no_upstream_is_refused_by_name() {
        let args = ["sentra-sync", "relay", "--windows-service"].map(std::ffi::OsString::from);
        let err = Cli::try_parse_from(service::with_settings(args.to_vec(), |_| None))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("--data-dir") && err.contains("--upstream"),
            "{err}"
        );
    }
}
