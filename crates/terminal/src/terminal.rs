//! The terminal: one encrypted store, one device identity, and the business
//! actions. Every action is one IMMEDIATE transaction that appends its
//! journal entry and updates the projections; it is durable when it returns.

use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use rust_decimal::Decimal;
use sentra_domain::{
    Currency, Discount, LineInput, Money, PaymentMethod, PricedSale, Quantity, RefundRequest,
    Settlement, SoldLine, TaxConfig, TaxMode, Tender,
};
use sentra_journal_store::data_dir::{self, ExistingKeyFile, KeyChoice};
use sentra_keystore::{DbKey, KeyStoreKind};
use sentra_protocol::payload::{
    CashCount, CashDirection, CashMoved, ClockSteppedBack, DiscountSpec, DrawerOpened,
    MasterDataRefused, PinLockedOut, RefundIssued, RefundLine, SaleCompleted, SaleLine, SaleVoided,
    ShiftClosed, ShiftOpened, StockCounted, TenderRecord,
};
use sentra_protocol::{Entry, EntryPayload, encode_payload};
use serde::Serialize;
use uuid::Uuid;

use crate::catalog::{self, ImportSummary, Product};
use crate::error::{Params, Result, StorageError, TerminalError, param};
use crate::journal::{self, Author, Clock, SystemClock, Verification};
use crate::manifest::Manifest;
use crate::projection::{self, ProjectionCheck};
use crate::reports::ShiftReport;
use crate::store;

/// A wall clock that reads this much less than at the previous entry was
/// set back (the cloud's default clock-skew tolerance, 2 min).
pub const CLOCK_STEP_TOLERANCE_MS: i64 = 120_000;

/// What selling, shifts, voids and refunds refuse.
#[derive(Debug, thiserror::Error)]
pub enum SaleError {
    #[error("unknown item {0:?}: no product has that SKU or barcode")]
    UnknownItem(String),

    #[error("item {0} is no longer sold: the cloud withdrew it from the catalog")]
    NotSold(String),

    /// An in-store scale label (prefix 20–29) that cannot be rung.
    #[error("{0}")]
    BadLabel(String),

    #[error("no shift is open")]
    NoOpenShift,

    #[error("shift {0} is already open; close it before opening another")]
    ShiftAlreadyOpen(String),

    #[error("receipt {0} not found on this terminal")]
    UnknownReceipt(String),

    #[error("receipt {receipt} cannot be voided: {reason}")]
    CannotVoid { receipt: String, reason: String },

    #[error("receipt {receipt} cannot be refunded: {reason}")]
    CannotRefund { receipt: String, reason: String },
}

impl SaleError {
    /// The stable code (see [`crate::error`]).
    pub fn code(&self) -> &'static str {
        match self {
            SaleError::UnknownItem(_) => "unknown_item",
            SaleError::NotSold(_) => "not_sold",
            SaleError::BadLabel(_) => "bad_label",
            SaleError::NoOpenShift => "no_open_shift",
            SaleError::ShiftAlreadyOpen(_) => "shift_already_open",
            SaleError::UnknownReceipt(_) => "unknown_receipt",
            SaleError::CannotVoid { .. } => "cannot_void",
            SaleError::CannotRefund { .. } => "cannot_refund",
        }
    }

    /// The values its worded message needs.
    pub fn params(&self) -> Params {
        match self {
            SaleError::UnknownItem(item) | SaleError::NotSold(item) => param("item", item),
            SaleError::ShiftAlreadyOpen(shift) => param("shift", shift),
            SaleError::UnknownReceipt(receipt)
            | SaleError::CannotVoid { receipt, .. }
            | SaleError::CannotRefund { receipt, .. } => param("receipt", receipt),
            SaleError::BadLabel(_) | SaleError::NoOpenShift => Params::new(),
        }
    }

    fn cannot_refund(receipt: &str, reason: impl Into<String>) -> Self {
        SaleError::CannotRefund {
            receipt: receipt.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Options of `init`.
#[derive(Clone, Debug, Default)]
pub struct InitOptions {
    pub branch: String,
    pub device_name: String,
    pub key_store: Option<KeyStoreKind>,
    pub key_file: Option<PathBuf>,
    pub tax_mode: TaxMode,
}

/// What `init` did, including any loud warning about key custody.
#[derive(Clone, Debug, Serialize)]
pub struct InitReport {
    pub branch: String,
    pub device_name: String,
    pub device_id: Uuid,
    pub public_key: String,
    pub key_store: KeyStoreKind,
    pub key_file: Option<PathBuf>,
    pub warning: Option<String>,
}

/// One item of a sale as entered: a SKU or barcode, a quantity, a discount.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemRequest {
    pub code: String,
    pub quantity: Quantity,
    pub discount: Option<Discount>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SaleRequest {
    pub items: Vec<ItemRequest>,
    pub cart_discount: Option<Discount>,
    pub tenders: Vec<Tender>,
    pub cashier: Option<String>,
    /// The supervisor who approved a discount above the threshold.
    pub discount_approved_by: Option<String>,
}

/// What the cashier needs after a sale: the receipt number and its figures.
pub type SaleReceipt = Recorded<SaleCompleted>;

/// A refund note: its number, the lines and the amount paid back.
pub type RefundReceipt = Recorded<RefundIssued>;

/// A recorded action: where its entry sits in the journal, and its payload.
#[derive(Clone, Debug, Serialize)]
pub struct Recorded<T> {
    pub seq: u64,
    pub entry_id: Uuid,
    #[serde(flatten)]
    pub payload: T,
}

pub struct Terminal {
    pub(crate) conn: Connection,
    pub(crate) ctx: Context,
}

/// Everything but the connection, so an open transaction can borrow the
/// connection while the context signs and numbers.
pub(crate) struct Context {
    pub(crate) data_dir: PathBuf,
    pub(crate) manifest: Manifest,
    pub(crate) author: Author,
    pub(crate) tax: TaxConfig,
    pub(crate) clock: Box<dyn Clock>,
}

fn validate_code(what: &'static str, value: &str) -> Result<String> {
    let upper = value.trim().to_ascii_uppercase();
    if upper.is_empty() || upper.len() > 12 || !upper.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(TerminalError::invalid(
            what,
            format!("{value:?} must be 1 to 12 letters or digits (e.g. JKT01, T02)"),
        ));
    }
    Ok(upper)
}

impl Terminal {
    /// Set up a new terminal in `data_dir`: a random database key kept in a
    /// key store, a new encrypted database, a new device key pair.
    pub fn init(data_dir: &Path, options: &InitOptions) -> Result<(Terminal, InitReport)> {
        let branch = validate_code("branch code", &options.branch)?;
        let device_name = validate_code("device name", &options.device_name)?;
        let keys = KeyChoice {
            store: options.key_store,
            file: options.key_file.clone(),
        };
        let mut new = data_dir::create::<Manifest>(data_dir, &keys, ExistingKeyFile::Refuse)?;
        let device_id = new.device_id();
        let warning = new.warning().map(str::to_owned);
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| TerminalError::invalid("random source", e.to_string()))?;
        let signing_key = SigningKey::from_bytes(&seed);
        seed.fill(0);
        let public_key = signing_key.verifying_key();
        let tax = TaxConfig {
            mode: options.tax_mode,
            ..TaxConfig::indonesia_default()
        };
        {
            let tx = new.connection().transaction()?;
            tx.execute(
                "INSERT INTO device (singleton, device_id, branch, device_name, signing_key,
                                     public_key, currency, tax_mode, created_at_ms)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    device_id.to_string(),
                    branch,
                    device_name,
                    signing_key.to_bytes().as_slice(),
                    public_key.to_bytes().as_slice(),
                    Currency::IDR.code(),
                    tax.mode.as_str(),
                    SystemClock.now_ms() as i64
                ],
            )?;
            for (category, percent) in &tax.rates {
                tx.execute(
                    "INSERT INTO tax_rates (category, percent) VALUES (?1, ?2)",
                    params![category, percent.to_string()],
                )?;
            }
            tx.commit()?;
        }
        // The manifest is written last: until it exists, open() treats the
        // data dir as not initialised and nothing can be sold into it.
        let (conn, manifest) = new.finish(|b| {
            Manifest::new(&branch, &device_name, b.device_id, b.key, b.key_fingerprint)
        })?;
        let report = InitReport {
            branch: branch.clone(),
            device_name: device_name.clone(),
            device_id,
            public_key: hex::encode(public_key.to_bytes()),
            key_store: manifest.key.kind,
            key_file: manifest.key.file.clone(),
            warning,
        };
        let terminal = Terminal {
            conn,
            ctx: Context {
                data_dir: data_dir.to_owned(),
                manifest,
                author: Author {
                    device_id,
                    branch,
                    signing_key,
                },
                tax,
                clock: Box::new(SystemClock),
            },
        };
        Ok((terminal, report))
    }

    /// Open an initialised terminal, loading its key from the key store.
    pub fn open(data_dir: &Path) -> Result<Terminal> {
        let (conn, manifest) = data_dir::open::<Manifest>(data_dir)?;
        Self::open_with(data_dir, manifest, conn)
    }

    /// Open with a key already in hand (benchmarks, recovery tools).
    pub fn open_with_key(data_dir: &Path, key: &DbKey) -> Result<Terminal> {
        let (conn, manifest) = data_dir::open_with_key::<Manifest>(data_dir, key)?;
        Self::open_with(data_dir, manifest, conn)
    }

    fn open_with(data_dir: &Path, manifest: Manifest, conn: Connection) -> Result<Terminal> {
        let path = manifest.database_path(data_dir);
        let (device_id, branch, seed, mode): (String, String, Vec<u8>, String) = conn
            .query_row(
                "SELECT device_id, branch, signing_key, tax_mode FROM device WHERE singleton = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(|e| store::corrupted_or(&path, e))?;
        let device_id = Uuid::parse_str(&device_id)
            .map_err(|e| TerminalError::invalid("stored device id", e.to_string()))?;
        if device_id != manifest.device_id {
            return Err(StorageError::BadManifest {
                path: Manifest::path(data_dir),
                detail: format!(
                    "it names device {} but the database belongs to device {device_id}",
                    manifest.device_id
                ),
            }
            .into());
        }
        let seed: [u8; 32] = seed
            .as_slice()
            .try_into()
            .map_err(|_| TerminalError::invalid("stored signing key", "not 32 bytes"))?;
        let tax = TaxConfig {
            mode: mode.parse()?,
            rates: load_tax_rates(&conn)?,
        };
        Ok(Terminal {
            conn,
            ctx: Context {
                data_dir: data_dir.to_owned(),
                manifest,
                author: Author {
                    device_id,
                    branch,
                    signing_key: SigningKey::from_bytes(&seed),
                },
                tax,
                clock: Box::new(SystemClock),
            },
        })
    }

    /// Re-read settings that a sync round may have pulled (tax rates). A
    /// long-running host that syncs on another connection calls this after
    /// a round that changed master data.
    pub fn reload_settings(&mut self) -> Result<()> {
        self.ctx.tax.rates = load_tax_rates(&self.conn)?;
        Ok(())
    }

    /// Replace the clock (tests that skew time).
    pub fn set_clock(&mut self, clock: Box<dyn Clock>) {
        self.ctx.clock = clock;
    }

    pub fn database_path(&self) -> PathBuf {
        self.ctx.manifest.database_path(&self.ctx.data_dir)
    }

    pub fn data_dir(&self) -> &Path {
        &self.ctx.data_dir
    }

    pub fn manifest(&self) -> &Manifest {
        &self.ctx.manifest
    }

    pub fn device_id(&self) -> Uuid {
        self.ctx.author.device_id
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.ctx.author.signing_key.verifying_key()
    }

    pub fn tax_config(&self) -> &TaxConfig {
        &self.ctx.tax
    }

    /// Read-only access for reports and tests.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Stores a stock page the caller has verified as the cloud's
    /// ([`crate::stock::apply_page`]); the sync round does this itself.
    pub fn apply_stock_page(&mut self, page: &sentra_protocol::wire::StockPage) -> Result<u64> {
        let device = self.device_id();
        let now = self.ctx.clock.now_ms();
        crate::stock::apply_page(&mut self.conn, page, device, now)
    }

    // ------------------------------------------------------------ catalog

    pub fn import_catalog(&mut self, path: &Path) -> Result<ImportSummary> {
        let file = std::fs::File::open(path)
            .map_err(|e| TerminalError::io(format!("opening {}", path.display()), e))?;
        let name = path.display().to_string();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let tip = journal::tip(&tx, self.ctx.author.device_id)?;
        let summary = catalog::import_csv(&tx, &name, std::io::BufReader::new(file), tip.seq)?;
        tx.commit()?;
        Ok(summary)
    }

    /// Import a catalog CSV already in memory (`name` is used in errors).
    pub fn import_catalog_from(&mut self, name: &str, csv: &[u8]) -> Result<ImportSummary> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let tip = journal::tip(&tx, self.ctx.author.device_id)?;
        let summary = catalog::import_csv(&tx, name, csv, tip.seq)?;
        tx.commit()?;
        Ok(summary)
    }

    pub fn find_product(&self, code: &str) -> Result<Option<Product>> {
        catalog::find_by_code(&self.conn, code)
    }

    pub fn search_products(&self, text: &str, limit: usize) -> Result<Vec<Product>> {
        catalog::search(&self.conn, text, limit)
    }

    // ------------------------------------------------------------- actions

    pub fn open_shift(
        &mut self,
        float: i64,
        cashier: Option<String>,
    ) -> Result<Recorded<ShiftOpened>> {
        if float < 0 {
            return Err(TerminalError::invalid(
                "float",
                format!("{float} is negative"),
            ));
        }
        let tx = begin(&mut self.conn)?;
        if let Some(open) = open_shift_id(&tx)? {
            return Err(SaleError::ShiftAlreadyOpen(open.to_string()).into());
        }
        let payload = ShiftOpened {
            shift_id: Uuid::now_v7(),
            opening_float: float,
            cashier,
        };
        self.ctx.commit(tx, payload)
    }

    pub fn move_cash(
        &mut self,
        direction: CashDirection,
        amount: i64,
        reason: Option<String>,
    ) -> Result<Recorded<CashMoved>> {
        if amount <= 0 {
            return Err(TerminalError::invalid(
                "amount",
                format!("{amount} must be positive"),
            ));
        }
        let tx = begin(&mut self.conn)?;
        let shift_id = open_shift_id(&tx)?.ok_or(SaleError::NoOpenShift)?;
        if direction == CashDirection::Out {
            let expected = projection::load_summary(&tx, shift_id)?.expected_cash()?;
            if expected.minor() < amount {
                return Err(TerminalError::invalid(
                    "cash out",
                    format!(
                        "{} is more than the {} expected in the drawer",
                        Money::idr(amount),
                        expected
                    ),
                ));
            }
        }
        let payload = CashMoved {
            shift_id,
            direction,
            amount,
            reason,
        };
        self.ctx.commit(tx, payload)
    }

    /// Open the drawer without a sale ("no sale"), for `reason`: journaled,
    /// and counted on the shift's X/Z report. Needs an open shift.
    pub fn open_drawer(
        &mut self,
        reason: &str,
        cashier: Option<String>,
    ) -> Result<Recorded<DrawerOpened>> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(TerminalError::invalid(
                "reason",
                "say why the drawer is opened without a sale",
            ));
        }
        let tx = begin(&mut self.conn)?;
        let shift_id = open_shift_id(&tx)?.ok_or(SaleError::NoOpenShift)?;
        let payload = DrawerOpened {
            shift_id,
            reason: reason.to_owned(),
            cashier,
        };
        self.ctx.commit(tx, payload)
    }

    /// Price, settle and record a sale. Nothing is written unless every item
    /// is known and the tender covers the total.
    pub fn sell(&mut self, request: &SaleRequest) -> Result<SaleReceipt> {
        let tx = begin(&mut self.conn)?;
        let shift_id = open_shift_id(&tx)?.ok_or(SaleError::NoOpenShift)?;
        let mut inputs = Vec::with_capacity(request.items.len());
        for item in &request.items {
            let product = catalog::find_by_code(&tx, &item.code)?
                .ok_or_else(|| SaleError::UnknownItem(item.code.clone()))?;
            if !product.active {
                return Err(SaleError::NotSold(product.sku).into());
            }
            inputs.push(LineInput {
                sku: product.sku,
                name: product.name,
                unit_price: Money::idr(product.unit_price),
                quantity: item.quantity,
                tax_category: product.tax_category,
                discount: item.discount.clone(),
            });
        }
        let priced =
            sentra_domain::price_sale(&inputs, request.cart_discount.clone(), &self.ctx.tax)?;
        let settlement = sentra_domain::settle(priced.total, request.tenders.clone())?;
        let receipt_no = self.ctx.next_number(&tx, DocumentKind::Receipt)?;
        let payload = sale_payload(
            receipt_no,
            shift_id,
            &priced,
            &settlement,
            request.cashier.clone(),
            request.discount_approved_by.clone(),
        );
        self.ctx.commit(tx, payload)
    }

    /// Void a completed sale of the open shift (money and goods go back).
    pub fn void(
        &mut self,
        receipt_no: &str,
        reason: Option<String>,
    ) -> Result<Recorded<SaleVoided>> {
        let tx = begin(&mut self.conn)?;
        let shift_id = open_shift_id(&tx)?.ok_or(SaleError::NoOpenShift)?;
        let (entry_id, sale_shift, status, refunded): (String, String, String, i64) = tx
            .query_row(
                "SELECT entry_id, shift_id, status,
                        (SELECT count(*) FROM refunds r WHERE r.receipt_no = s.receipt_no)
                 FROM sales s WHERE receipt_no = ?1",
                [receipt_no],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?
            .ok_or_else(|| SaleError::UnknownReceipt(receipt_no.to_owned()))?;
        let cannot = |reason: &str| -> TerminalError {
            SaleError::CannotVoid {
                receipt: receipt_no.to_owned(),
                reason: reason.to_owned(),
            }
            .into()
        };
        if status == "voided" {
            return Err(cannot("it is already voided"));
        }
        if sale_shift != shift_id.to_string() {
            return Err(cannot(
                "it belongs to an earlier shift; issue a refund instead",
            ));
        }
        if refunded > 0 {
            return Err(cannot(
                "part of it was already refunded; refund the rest instead",
            ));
        }
        let sale = projection::load_sale_payload(&tx, self.ctx.author.device_id, receipt_no)?;
        let payload = SaleVoided {
            receipt_no: receipt_no.to_owned(),
            sale_entry_id: Uuid::parse_str(&entry_id)
                .map_err(|e| TerminalError::invalid("stored entry id", e.to_string()))?,
            shift_id,
            total: sale.total,
            reason,
        };
        self.ctx.commit(tx, payload)
    }

    /// Refund items of an earlier sale of this terminal. Never more than was
    /// sold, counting earlier refunds.
    pub fn refund(
        &mut self,
        receipt_no: &str,
        items: &[(String, Quantity)],
        method: PaymentMethod,
        reason: Option<String>,
    ) -> Result<RefundReceipt> {
        // Another till's sale, verified when it was fetched and again now.
        let is_local: i64 = self.conn.query_row(
            "SELECT count(*) FROM sales WHERE receipt_no = ?1",
            [receipt_no],
            |r| r.get(0),
        )?;
        let foreign = if is_local > 0 {
            None
        } else {
            self.foreign_sale(receipt_no)?
        };
        let tx = begin(&mut self.conn)?;
        let shift_id = open_shift_id(&tx)?.ok_or(SaleError::NoOpenShift)?;
        let local: Option<(String, String)> = tx
            .query_row(
                "SELECT entry_id, status FROM sales WHERE receipt_no = ?1",
                [receipt_no],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let mut refunded: std::collections::HashMap<u32, i64> = std::collections::HashMap::new();
        // What was sold comes from the sale's own journal entry: this
        // till's, or another till's as fetched and verified for the return
        // (`sync::receipt`), with the refunds made of it elsewhere.
        let (entry_id, voided, sale) = match local {
            Some((entry_id, status)) => {
                let sale =
                    projection::load_sale_payload(&tx, self.ctx.author.device_id, receipt_no)?;
                (entry_id, status == "voided", sale)
            }
            None => {
                let foreign =
                    foreign.ok_or_else(|| SaleError::UnknownReceipt(receipt_no.to_owned()))?;
                for r in &foreign.refunds {
                    for l in &r.lines {
                        *refunded.entry(l.line_no).or_default() += l.quantity_milli;
                    }
                }
                (foreign.entry.id.to_string(), foreign.voided, foreign.sale)
            }
        };
        if voided {
            return Err(SaleError::cannot_refund(receipt_no, "it was voided").into());
        }
        // What was already refunded here, from the refund projection.
        {
            let mut stmt = tx.prepare_cached(
                "SELECT l.line_no, sum(l.quantity_milli) FROM refunds r
                 JOIN refund_lines l ON l.refund_no = r.refund_no
                 WHERE r.receipt_no = ?1 GROUP BY l.line_no",
            )?;
            let rows = stmt.query_map([receipt_no], |r| {
                Ok((r.get::<_, u32>(0)?, r.get::<_, i64>(1)?))
            })?;
            for row in rows {
                let (line_no, milli) = row?;
                *refunded.entry(line_no).or_default() += milli;
            }
        }
        let sold: Vec<SoldLine> = sale
            .lines
            .iter()
            .map(|l| SoldLine {
                line_no: l.line_no,
                sku: l.sku.clone(),
                quantity: Quantity::from_milli(l.quantity_milli),
                total: Money::idr(l.total),
                tax: Money::idr(l.tax),
                refunded_quantity: Quantity::from_milli(
                    refunded.get(&l.line_no).copied().unwrap_or(0),
                ),
            })
            .collect();
        // Items may be named by barcode too.
        let mut requests = Vec::with_capacity(items.len());
        for (code, quantity) in items {
            let sku = match catalog::find_by_code(&tx, code)? {
                Some(p) => p.sku,
                None => code.clone(),
            };
            requests.push(RefundRequest {
                sku,
                quantity: *quantity,
            });
        }
        let plan = sentra_domain::plan_refund(&sold, &requests)
            .map_err(|e| SaleError::cannot_refund(receipt_no, e.to_string()))?;
        let lines: Vec<RefundLine> = plan
            .iter()
            .map(|l| RefundLine {
                line_no: l.line_no,
                sku: l.sku.clone(),
                quantity_milli: l.quantity.milli(),
                amount: l.amount.minor(),
                tax: l.tax.minor(),
            })
            .collect();
        let total = lines.iter().map(|l| l.amount).sum::<i64>();
        let tax = lines.iter().map(|l| l.tax).sum::<i64>();
        if method == PaymentMethod::Cash {
            cash_to_pay_back(&tx, shift_id, receipt_no, total)?;
        }
        let refund_no = self.ctx.next_number(&tx, DocumentKind::Refund)?;
        let payload = RefundIssued {
            refund_no,
            receipt_no: receipt_no.to_owned(),
            sale_entry_id: Uuid::parse_str(&entry_id).ok(),
            shift_id,
            lines,
            total,
            tax,
            method: method.as_str().to_owned(),
            reason,
            unverified: false,
        };
        self.ctx.commit(tx, payload)
    }

    /// A return made without the original sale: no relay or cloud could
    /// produce it (offline), so nothing can be verified. The caller has a
    /// supervisor's approval; `reason` is required. The items are priced
    /// from the catalog as a sale of them now would be (no discounts), the
    /// refund says `unverified`, and the cloud flags it for head office
    /// (`unverified_return`).
    pub fn refund_unverified(
        &mut self,
        receipt_no: &str,
        items: &[(String, Quantity)],
        method: PaymentMethod,
        reason: &str,
    ) -> Result<RefundReceipt> {
        let (receipt_no, reason) = (receipt_no.trim(), reason.trim());
        if receipt_no.is_empty() || reason.is_empty() {
            return Err(TerminalError::invalid(
                "refund",
                "a return without the original needs the receipt number and a reason",
            ));
        }
        let known: i64 = self.conn.query_row(
            "SELECT (SELECT count(*) FROM sales WHERE receipt_no = ?1)
                  + (SELECT count(*) FROM foreign_sales WHERE receipt_no = ?1)",
            [receipt_no],
            |r| r.get(0),
        )?;
        if known > 0 {
            return Err(SaleError::cannot_refund(
                receipt_no,
                "its sale is known here: refund it against the sale",
            )
            .into());
        }
        let tx = begin(&mut self.conn)?;
        let shift_id = open_shift_id(&tx)?.ok_or(SaleError::NoOpenShift)?;
        let mut inputs = Vec::with_capacity(items.len());
        for (code, quantity) in items {
            let product = catalog::find_by_code(&tx, code)?
                .ok_or_else(|| SaleError::UnknownItem(code.clone()))?;
            inputs.push(LineInput {
                sku: product.sku,
                name: product.name,
                unit_price: Money::idr(product.unit_price),
                quantity: *quantity,
                tax_category: product.tax_category,
                discount: None,
            });
        }
        let priced = sentra_domain::price_sale(&inputs, None, &self.ctx.tax)?;
        let lines: Vec<RefundLine> = priced
            .lines
            .iter()
            .zip(1u32..)
            .map(|(l, line_no)| RefundLine {
                line_no,
                sku: l.sku.clone(),
                quantity_milli: l.quantity.milli(),
                amount: l.total.minor(),
                tax: l.tax.minor(),
            })
            .collect();
        let (total, tax) = (priced.total.minor(), priced.tax.minor());
        if method == PaymentMethod::Cash {
            cash_to_pay_back(&tx, shift_id, receipt_no, total)?;
        }
        let refund_no = self.ctx.next_number(&tx, DocumentKind::Refund)?;
        let payload = RefundIssued {
            refund_no,
            receipt_no: receipt_no.to_owned(),
            sale_entry_id: None,
            shift_id,
            lines,
            total,
            tax,
            method: method.as_str().to_owned(),
            reason: Some(reason.to_owned()),
            unverified: true,
        };
        self.ctx.commit(tx, payload)
    }

    /// Close the open shift with the cash counted in the drawer; returns the
    /// Z report.
    pub fn close_shift(&mut self, counted_cash: i64) -> Result<ShiftReport> {
        self.close_shift_counted(counted_cash, Vec::new())
    }

    /// [`Terminal::close_shift`] with the drawer counted by note and coin:
    /// the count must add up to `counted_cash` (both are on the Z report).
    pub fn close_shift_counted(
        &mut self,
        counted_cash: i64,
        mut denominations: Vec<CashCount>,
    ) -> Result<ShiftReport> {
        denominations.retain(|d| d.count > 0);
        denominations.sort_by_key(|d| std::cmp::Reverse(d.value));
        if !denominations.is_empty() {
            let counts: Vec<(i64, u64)> =
                denominations.iter().map(|d| (d.value, d.count)).collect();
            let total = sentra_domain::tender::cash_count_total(&counts).ok_or_else(|| {
                TerminalError::invalid("cash count", "a note or coin value is not positive")
            })?;
            if total != counted_cash {
                return Err(TerminalError::invalid(
                    "cash count",
                    format!(
                        "the notes and coins add up to {}, not the {} counted",
                        Money::idr(total),
                        Money::idr(counted_cash)
                    ),
                ));
            }
        }
        if counted_cash < 0 {
            return Err(TerminalError::invalid(
                "counted cash",
                format!("{counted_cash} is negative"),
            ));
        }
        let tx = begin(&mut self.conn)?;
        let shift_id = open_shift_id(&tx)?.ok_or(SaleError::NoOpenShift)?;
        let summary = projection::load_summary(&tx, shift_id)?;
        let expected = summary.expected_cash()?;
        let variance = summary.variance(Money::idr(counted_cash))?;
        let payload = ShiftClosed {
            shift_id,
            opening_float: summary.opening_float.minor(),
            totals: projection::totals_of(&summary),
            expected_cash: expected.minor(),
            counted_cash,
            variance: variance.minor(),
            counted_denominations: denominations,
        };
        self.ctx.record(&tx, &payload)?;
        let report = crate::reports::shift_report(&tx, &self.ctx.manifest, shift_id)?;
        tx.commit()?;
        Ok(report)
    }

    /// The running (X) report of the open shift.
    pub fn x_report(&self) -> Result<ShiftReport> {
        let shift_id = open_shift_id(&self.conn)?.ok_or(SaleError::NoOpenShift)?;
        crate::reports::shift_report(&self.conn, &self.ctx.manifest, shift_id)
    }

    /// The Z report of the most recently closed shift.
    pub fn last_z_report(&self) -> Result<ShiftReport> {
        let shift_id: Option<String> = self
            .conn
            .query_row(
                "SELECT shift_id FROM shifts WHERE status = 'closed' ORDER BY closed_seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let shift_id = shift_id
            .ok_or_else(|| TerminalError::invalid("report", "no shift has been closed yet"))?;
        let shift_id = Uuid::parse_str(&shift_id)
            .map_err(|e| TerminalError::invalid("stored shift id", e.to_string()))?;
        crate::reports::shift_report(&self.conn, &self.ctx.manifest, shift_id)
    }

    /// Record a stock count of one product.
    pub fn count_stock(&mut self, code: &str, counted: Quantity) -> Result<Recorded<StockCounted>> {
        let tx = begin(&mut self.conn)?;
        let product = catalog::find_by_code(&tx, code)?
            .ok_or_else(|| SaleError::UnknownItem(code.to_owned()))?;
        let payload = StockCounted {
            sku: product.sku,
            counted_milli: counted.milli(),
            // What the till believed; 0 for an item it had no figure for.
            previous_milli: product.on_hand_milli.unwrap_or(0),
        };
        self.ctx.commit(tx, payload)
    }

    /// Journal every PIN lock-out not journaled yet (`pin_locked_out`), each
    /// in the same transaction as the mark that it was, so each is written
    /// once. Called after every counted PIN check.
    pub fn journal_pin_lockouts(&mut self) -> Result<Vec<Recorded<PinLockedOut>>> {
        let pending: Vec<(String, i64, i64)> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT key, failures, locked_for_ms FROM pin_attempts
                 WHERE locked_for_ms > 0 AND failures > journaled_failures",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut recorded = Vec::with_capacity(pending.len());
        for (key, failures, locked_for_ms) in pending {
            let tx = begin(&mut self.conn)?;
            tx.execute(
                "UPDATE pin_attempts SET journaled_failures = ?2 WHERE key = ?1",
                rusqlite::params![key, failures],
            )?;
            let payload = PinLockedOut {
                user_id: (key != crate::pos::cashiers::SUPERVISOR_KEY).then_some(key),
                failures,
                locked_for_ms,
            };
            recorded.push(self.ctx.commit(tx, payload)?);
        }
        Ok(recorded)
    }

    /// Journal that pulled master data was refused (see `sync::pull`).
    pub(crate) fn journal_master_data_refused(
        &mut self,
        payload: MasterDataRefused,
    ) -> Result<Recorded<MasterDataRefused>> {
        let tx = begin(&mut self.conn)?;
        self.ctx.commit(tx, payload)
    }

    /// Copy committed WAL pages into the database file without waiting for
    /// readers (a PASSIVE checkpoint): for an idle moment, so the automatic
    /// checkpoint rarely has to run inside a sale's commit.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    // ------------------------------------------------------------- journal

    pub fn verify_journal(&self) -> Result<Verification> {
        journal::verify(&self.conn, self.ctx.author.device_id, &self.verifying_key())
    }

    pub fn export_journal(&self) -> Result<Vec<Entry>> {
        journal::read_all(&self.conn, self.ctx.author.device_id)
    }

    pub fn check_projections(&self) -> Result<ProjectionCheck> {
        projection::check(&self.conn, self.ctx.author.device_id)
    }
}

impl Context {
    /// Append the payload's entry and apply it to the projections, inside
    /// `tx`.
    fn record<P: EntryPayload>(&self, tx: &Transaction<'_>, payload: &P) -> Result<Entry> {
        self.watch_clock(tx)?;
        let entry = journal::append(
            tx,
            &self.author,
            self.clock.as_ref(),
            P::kind(),
            encode_payload(payload)?,
        )?;
        projection::apply(tx, &entry)?;
        Ok(entry)
    }

    /// Notes the wall clock's reading; when it reads more than
    /// [`CLOCK_STEP_TOLERANCE_MS`] less than at the previous entry, first
    /// journals `clock_stepped_back`: the cloud then knows where the entries
    /// made with a clock behind begin, and corrects only those.
    fn watch_clock(&self, tx: &Transaction<'_>) -> Result<()> {
        let now = i64::try_from(self.clock.now_ms()).unwrap_or(i64::MAX);
        let last: Option<i64> = tx
            .prepare_cached("SELECT last_clock_ms FROM clock_watch WHERE singleton = 1")?
            .query_row([], |r| r.get(0))
            .optional()?;
        tx.prepare_cached(
            "INSERT INTO clock_watch (singleton, last_clock_ms) VALUES (1, ?1)
             ON CONFLICT (singleton) DO UPDATE SET last_clock_ms = excluded.last_clock_ms",
        )?
        .execute([now])?;
        if let Some(last) = last
            && last.saturating_sub(now) > CLOCK_STEP_TOLERANCE_MS
        {
            let step = ClockSteppedBack {
                behind_ms: last - now,
                clock_ms: now.max(0),
            };
            let marker = journal::append(
                tx,
                &self.author,
                self.clock.as_ref(),
                ClockSteppedBack::kind(),
                encode_payload(&step)?,
            )?;
            projection::apply(tx, &marker)?;
        }
        Ok(())
    }

    /// Record the payload and commit: how every single-entry action ends.
    fn commit<P: EntryPayload>(&self, tx: Transaction<'_>, payload: P) -> Result<Recorded<P>> {
        let entry = self.record(&tx, &payload)?;
        tx.commit()?;
        Ok(Recorded {
            seq: entry.seq,
            entry_id: entry.id,
            payload,
        })
    }

    /// Receipt numbers: `BRANCH-DEVICE-000123`, refund notes
    /// `BRANCH-DEVICE-R000007`: consecutive per device, so unique across the
    /// chain with no coordination (device names are unique per branch). The
    /// next number comes from the open shift's row, which the entry updates
    /// anyway.
    fn next_number(&self, tx: &Transaction<'_>, kind: DocumentKind) -> Result<String> {
        let sql = match kind {
            DocumentKind::Receipt => {
                "SELECT receipts_before + sales_count + 1 FROM shifts WHERE status = 'open'"
            }
            DocumentKind::Refund => {
                "SELECT refunds_before + refunds_count + 1 FROM shifts WHERE status = 'open'"
            }
        };
        let next: i64 = tx
            .prepare_cached(sql)?
            .query_row([], |r| r.get(0))
            .optional()?
            .ok_or(SaleError::NoOpenShift)?;
        let prefix = match kind {
            DocumentKind::Receipt => "",
            DocumentKind::Refund => "R",
        };
        Ok(format!(
            "{}-{}-{prefix}{next:06}",
            self.author.branch, self.manifest.device_name
        ))
    }
}

#[derive(Clone, Copy)]
enum DocumentKind {
    Receipt,
    Refund,
}

fn load_tax_rates(conn: &Connection) -> Result<std::collections::BTreeMap<String, Decimal>> {
    let mut rates = std::collections::BTreeMap::new();
    let mut stmt = conn.prepare("SELECT category, percent FROM tax_rates")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (category, percent) = row?;
        let percent: Decimal = percent
            .parse()
            .map_err(|_| TerminalError::invalid("stored tax rate", percent.clone()))?;
        rates.insert(category, percent);
    }
    Ok(rates)
}

fn begin(conn: &mut Connection) -> Result<Transaction<'_>> {
    Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
}

fn open_shift_id(conn: &Connection) -> Result<Option<Uuid>> {
    let id: Option<String> = conn
        .prepare_cached("SELECT shift_id FROM shifts WHERE status = 'open'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    id.map(|s| {
        Uuid::parse_str(&s).map_err(|e| TerminalError::invalid("stored shift id", e.to_string()))
    })
    .transpose()
}

fn discount_spec(d: &Discount) -> DiscountSpec {
    match d {
        Discount::Amount(m) => DiscountSpec::Amount { amount: m.minor() },
        Discount::Percent(p) => DiscountSpec::Percent {
            percent: p.normalize().to_string(),
        },
    }
}

fn sale_payload(
    receipt_no: String,
    shift_id: Uuid,
    priced: &PricedSale,
    settlement: &Settlement,
    cashier: Option<String>,
    discount_approved_by: Option<String>,
) -> SaleCompleted {
    SaleCompleted {
        receipt_no,
        shift_id,
        currency: priced.currency.code().to_owned(),
        tax_mode: priced.tax_mode.as_str().to_owned(),
        lines: priced
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| SaleLine {
                line_no: i as u32 + 1,
                sku: l.sku.clone(),
                name: l.name.clone(),
                quantity_milli: l.quantity.milli(),
                unit_price: l.unit_price.minor(),
                tax_category: l.tax_category.clone(),
                tax_rate: l.tax_rate.normalize().to_string(),
                discount: l.discount.as_ref().map(discount_spec),
                gross: l.gross.minor(),
                line_discount: l.line_discount.minor(),
                cart_discount_share: l.cart_discount_share.minor(),
                net: l.net.minor(),
                tax: l.tax.minor(),
                total: l.total.minor(),
            })
            .collect(),
        cart_discount: priced.cart_discount.as_ref().map(discount_spec),
        gross: priced.gross.minor(),
        discounts: priced.discounts().minor(),
        tax: priced.tax.minor(),
        total: priced.total.minor(),
        tenders: settlement
            .tenders
            .iter()
            .map(|t| TenderRecord {
                method: t.method.as_str().to_owned(),
                amount: t.amount.minor(),
                reference: t.reference.clone(),
            })
            .collect(),
        paid: settlement.paid.minor(),
        change: settlement.change.minor(),
        cashier,
        discount_approved_by,
    }
}

/// A cash refund cannot pay back more than the drawer is expected to hold.
fn cash_to_pay_back(
    tx: &Transaction<'_>,
    shift_id: Uuid,
    receipt_no: &str,
    total: i64,
) -> Result<()> {
    let expected = projection::load_summary(tx, shift_id)?.expected_cash()?;
    if expected.minor() < total {
        return Err(SaleError::cannot_refund(
            receipt_no,
            format!(
                "the drawer is expected to hold {expected}, less than the {} to pay back in cash",
                Money::idr(total)
            ),
        )
        .into());
    }
    Ok(())
}
