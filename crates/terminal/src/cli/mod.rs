//! Argument parsing and dispatch.

mod args;
mod output;
mod sync;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use sentra_domain::{PaymentMethod, Quantity, TaxMode};
use sentra_keystore::KeyStoreKind;
use sentra_protocol::payload::CashDirection;
use sentra_terminal::{InitOptions, SaleRequest, Terminal, TerminalError};

use output::Out;

#[derive(Parser)]
#[command(
    name = "sentra-term",
    version,
    about = "Sentra POS terminal core: journal, catalog, shifts, sales"
)]
struct Cli {
    /// Data directory of this terminal.
    #[arg(long, global = true, env = "SENTRA_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Machine-readable JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum KeyStoreArg {
    /// Windows Credential Manager, macOS Keychain, or the Secret Service on Linux.
    Os,
    /// Linux kernel session keyring: lost at logout/reboot (tests only).
    Keyutils,
    /// A key file (explicit fallback for boxes with no keyring).
    File,
}

#[derive(Clone, Copy, ValueEnum)]
enum TaxModeArg {
    Inclusive,
    Exclusive,
}

#[derive(Subcommand)]
enum Command {
    /// Set up this terminal: database key, encrypted database, device keys.
    Init {
        #[arg(long)]
        branch: String,
        #[arg(long)]
        device: String,
        /// Where to keep the database key (default: the OS keyring if one answers, else a key file with a warning).
        #[arg(long, value_enum, env = "SENTRA_KEY_STORE")]
        key_store: Option<KeyStoreArg>,
        /// Key file path for `--key-store file`.
        #[arg(long, env = "SENTRA_KEY_FILE")]
        key_file: Option<PathBuf>,
        /// Prices include tax (default) or tax is added on top.
        #[arg(long, value_enum, default_value = "inclusive")]
        tax_mode: TaxModeArg,
    },
    /// Show this terminal's identity and journal position.
    Info,
    #[command(subcommand)]
    Catalog(CatalogCommand),
    #[command(subcommand)]
    Shift(ShiftCommand),
    /// Put cash into or take cash out of the drawer.
    Cash {
        #[arg(value_enum)]
        direction: CashDirectionArg,
        amount: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Ring up a sale.
    Sell {
        /// SKU or barcode, with optional quantity and discount: `SKU`, `SKUx3`, `BERASx1.25`, `SKUx2@10%`, `SKU@5000`.
        #[arg(long = "item", required = true, value_name = "SKU[xQTY][@DISC]")]
        items: Vec<String>,
        /// Tender: `cash:50000`, `card:20000[:APPROVAL]`, `qris:30000:REF`, `voucher:10000:CODE`.
        #[arg(long = "pay", required = true, value_name = "METHOD:AMOUNT[:REF]")]
        tenders: Vec<String>,
        /// Cart discount: `10%` or an amount `5000`.
        #[arg(long)]
        discount: Option<String>,
        #[arg(long)]
        cashier: Option<String>,
    },
    /// Void a sale of the open shift.
    Void {
        receipt: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Refund items of an earlier sale.
    Refund {
        receipt: String,
        #[arg(long = "item", required = true, value_name = "SKU[xQTY]")]
        items: Vec<String>,
        /// How the money goes back.
        #[arg(long, default_value = "cash")]
        method: String,
        #[arg(long)]
        reason: Option<String>,
    },
    #[command(subcommand)]
    Stock(StockCommand),
    #[command(subcommand)]
    Report(ReportCommand),
    #[command(subcommand)]
    Journal(JournalCommand),
    #[command(subcommand)]
    Cashier(CashierCommand),
    #[command(flatten)]
    Sync(sync::SyncCommand),
}

#[derive(Clone, Copy, ValueEnum)]
enum CashDirectionArg {
    In,
    Out,
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Import products from CSV: sku,barcode,name,price,tax_category,stock.
    Import { file: PathBuf },
    /// Search by name (word prefixes), SKU or barcode.
    Search {
        text: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Look up one product by barcode or SKU.
    Show { code: String },
}

#[derive(Subcommand)]
enum ShiftCommand {
    /// Open a shift with a cash float.
    Open {
        #[arg(long)]
        float: String,
        #[arg(long)]
        cashier: Option<String>,
    },
    /// Close the shift with the counted cash; prints the Z report.
    Close {
        #[arg(long)]
        counted: String,
    },
}

#[derive(Subcommand)]
enum StockCommand {
    /// Record a stock count for one product.
    Count {
        code: String,
        #[arg(long)]
        counted: String,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Running report of the open shift.
    X,
    /// Closing report of the last closed shift.
    Z,
}

#[derive(Subcommand)]
enum CashierCommand {
    /// The people who may sign in at this till (as last pulled).
    List,
    /// Check a person's PIN as the till's sign-in does (counted, locks out
    /// after repeated wrong PINs); the PIN is read from stdin.
    Check {
        /// Name or user id.
        who: String,
    },
}

#[derive(Subcommand)]
enum JournalCommand {
    /// Verify the hash chain and signatures; names the first bad seq.
    Verify,
    /// Print every journal entry.
    Export,
    /// Rebuild the projections from the journal and compare.
    Check,
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let out = Out { json: cli.json };
    let database = cli
        .data_dir
        .as_ref()
        .map(|d| d.join(sentra_terminal::manifest::DATABASE_FILE));
    match dispatch(cli, &out) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let e = match (e.downcast::<TerminalError>(), &database) {
                (Ok(t), Some(db)) => anyhow::Error::new(t.naming_damage(db)),
                (Ok(t), None) => anyhow::Error::new(t),
                (Err(e), _) => e,
            };
            let hint = e
                .downcast_ref::<TerminalError>()
                .and_then(|t| advice(t.code()));
            match hint {
                Some(hint) => eprintln!("error: {}: {hint}", one_line(&e)),
                None => eprintln!("error: {}", one_line(&e)),
            }
            ExitCode::FAILURE
        }
    }
}

/// What to run next, in the CLI's own words (the app words the same codes
/// for the cashier; the core's messages carry no command lines).
fn advice(code: &str) -> Option<&'static str> {
    match code {
        "not_set_up" => Some("run `sentra-term init --branch CODE --device NAME` first"),
        "no_open_shift" => Some("run `sentra-term shift open --float N` first"),
        "undelivered" => Some("run `sentra-term sync`, or confirm to go on"),
        _ => None,
    }
}

/// The error and its causes on one line, skipping a cause whose text the
/// message already contains (our error types often embed their source).
fn one_line(e: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message.replace('\n', " ")
}

/// `sentra-term journal export | head` is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

fn data_dir(cli: &Cli) -> Result<&Path> {
    match &cli.data_dir {
        Some(dir) => Ok(dir),
        None => bail!("no data dir: pass --data-dir DIR or set SENTRA_DATA_DIR"),
    }
}

fn open(cli: &Cli) -> Result<Terminal> {
    Ok(Terminal::open(data_dir(cli)?)?)
}

fn dispatch(cli: Cli, out: &Out) -> Result<ExitCode> {
    let done: Result<()> = match &cli.command {
        // Sync commands choose their own exit status (see cli/sync.rs).
        Command::Sync(command) => return sync::run(command, data_dir(&cli)?, out),
        Command::Init {
            branch,
            device,
            key_store,
            key_file,
            tax_mode,
        } => {
            let options = InitOptions {
                branch: branch.clone(),
                device_name: device.clone(),
                key_store: key_store.map(|k| match k {
                    KeyStoreArg::Os => KeyStoreKind::Os,
                    KeyStoreArg::Keyutils => KeyStoreKind::Keyutils,
                    KeyStoreArg::File => KeyStoreKind::File,
                }),
                key_file: key_file.clone(),
                tax_mode: match tax_mode {
                    TaxModeArg::Inclusive => TaxMode::Inclusive,
                    TaxModeArg::Exclusive => TaxMode::Exclusive,
                },
            };
            let (_, report) = Terminal::init(data_dir(&cli)?, &options)?;
            if let Some(warning) = &report.warning {
                // Loud, on stderr, even with --json: a person must see it.
                let bar = "!".repeat(72);
                let prefix = if warning.starts_with("WARNING") {
                    ""
                } else {
                    "WARNING: "
                };
                eprintln!("\n{bar}\n{prefix}{}\n{bar}\n", warning.trim_end());
            }
            out.init(&report)
        }
        Command::Info => out.info(&open(&cli)?),
        Command::Cashier(CashierCommand::List) => out.operators(
            &sentra_terminal::pos::cashiers::list(open(&cli)?.connection())?,
        ),
        Command::Cashier(CashierCommand::Check { who }) => {
            let mut t = open(&cli)?;
            let people = sentra_terminal::pos::cashiers::list(t.connection())?;
            let Some(person) = people.iter().find(|p| p.name == *who || p.user_id == *who) else {
                bail!(
                    "no active person {who:?} may sign in at this till; run `sentra-term sync` to pull head office's changes"
                );
            };
            let mut pin = String::new();
            std::io::stdin()
                .read_line(&mut pin)
                .context("reading the PIN from stdin")?;
            let checked = sentra_terminal::pos::cashiers::verify_counted(
                t.connection(),
                &person.user_id,
                pin.trim_end_matches(['\r', '\n']),
            );
            t.journal_pin_lockouts()?;
            out.operators(std::slice::from_ref(&checked?))
        }
        Command::Catalog(CatalogCommand::Import { file }) => {
            let summary = open(&cli)?.import_catalog(file)?;
            out.import(&summary)
        }
        Command::Catalog(CatalogCommand::Search { text, limit }) => {
            out.products(&open(&cli)?.search_products(text, *limit)?)
        }
        Command::Catalog(CatalogCommand::Show { code }) => match open(&cli)?.find_product(code)? {
            Some(p) => out.products(std::slice::from_ref(&p)),
            None => bail!("unknown item {code:?}: no product has that SKU or barcode"),
        },
        Command::Shift(ShiftCommand::Open { float, cashier }) => {
            let float = args::amount("float", float)?;
            out.recorded(
                "shift opened",
                &open(&cli)?.open_shift(float, cashier.clone())?,
            )
        }
        Command::Shift(ShiftCommand::Close { counted }) => {
            let counted = args::amount("counted cash", counted)?;
            out.report(&open(&cli)?.close_shift(counted)?)
        }
        Command::Cash {
            direction,
            amount,
            reason,
        } => {
            let amount = args::amount("amount", amount)?;
            let direction = match direction {
                CashDirectionArg::In => CashDirection::In,
                CashDirectionArg::Out => CashDirection::Out,
            };
            out.recorded(
                "cash moved",
                &open(&cli)?.move_cash(direction, amount, reason.clone())?,
            )
        }
        Command::Sell {
            items,
            tenders,
            discount,
            cashier,
        } => {
            let request = SaleRequest {
                items: items.iter().map(|i| args::item(i)).collect::<Result<_>>()?,
                cart_discount: discount.as_deref().map(args::discount).transpose()?,
                tenders: tenders
                    .iter()
                    .map(|t| args::tender(t))
                    .collect::<Result<_>>()?,
                cashier: cashier.clone(),
                discount_approved_by: None,
            };
            out.sale(&open(&cli)?.sell(&request)?)
        }
        Command::Void { receipt, reason } => {
            out.recorded("sale voided", &open(&cli)?.void(receipt, reason.clone())?)
        }
        Command::Refund {
            receipt,
            items,
            method,
            reason,
        } => {
            let method: PaymentMethod = method.parse().context("--method")?;
            let items = items
                .iter()
                .map(|i| {
                    let item = args::item(i)?;
                    if item.discount.is_some() {
                        bail!("a refund item takes no discount: {i}");
                    }
                    Ok((item.code, item.quantity))
                })
                .collect::<Result<Vec<(String, Quantity)>>>()?;
            out.refund(&open(&cli)?.refund(receipt, &items, method, reason.clone())?)
        }
        Command::Stock(StockCommand::Count { code, counted }) => {
            let counted: Quantity = counted.parse().context("--counted")?;
            out.recorded("stock counted", &open(&cli)?.count_stock(code, counted)?)
        }
        Command::Report(ReportCommand::X) => out.report(&open(&cli)?.x_report()?),
        Command::Report(ReportCommand::Z) => out.report(&open(&cli)?.last_z_report()?),
        Command::Journal(JournalCommand::Verify) => {
            out.verification(&open(&cli)?.verify_journal()?)
        }
        Command::Journal(JournalCommand::Export) => out.entries(&open(&cli)?.export_journal()?),
        Command::Journal(JournalCommand::Check) => {
            let check = open(&cli)?.check_projections()?;
            out.check(&check)?;
            if !check.differences.is_empty() {
                bail!(
                    "projections differ from the journal: {}",
                    check.differences.join("; ")
                );
            }
            Ok(())
        }
    };
    done.map(|()| ExitCode::SUCCESS)
}
