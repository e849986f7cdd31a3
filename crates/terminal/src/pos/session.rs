//! One till's session: the signed-in operator, the lock, the cart, and every
//! action a cashier takes, each checked here (signed in, not locked,
//! supervisor where needed) before it reaches [`Terminal`].

use rusqlite::{OptionalExtension, params};
use sentra_domain::scale_label::{self, Embeds};
use sentra_domain::{Money, PaymentMethod, Quantity, Tender};
use sentra_protocol::payload::{CashCount, CashDirection};
use std::collections::HashMap;
use uuid::Uuid;

use super::branch::BranchProfile;
use super::cart::{self, Cart, DiscountInput};
use super::cashiers::{self, Operator};
use super::print_queue;
use super::receipt;
use super::settings::{self, PosSettings, SetupMode};
use super::views::*;
use crate::error::{Params, Result, SaleError, TerminalError, param};
use crate::{ItemRequest, SaleRequest, Terminal, catalog, projection};

/// What the session refuses before an action reaches the terminal: no till,
/// no one signed in, the lock, a PIN, a supervisor's approval, or the
/// cashier's confirmation.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("this till is not set up yet")]
    NotSetUp,

    #[error("no one is signed in at this till")]
    NotSignedIn,

    #[error("the till is locked: sign in again with your PIN")]
    Locked,

    #[error("wrong PIN")]
    PinRejected,

    /// Too many wrong PINs: no PIN is checked for this long.
    #[error("too many wrong PINs: try again in {seconds} s")]
    PinLocked { seconds: u64 },

    #[error("that is not a supervisor's PIN")]
    SupervisorRejected,

    #[error("a supervisor must approve this: {0}")]
    SupervisorRequired(String),

    /// Signing out or closing the shift with entries the cloud does not
    /// hold yet: the cashier confirms (they are kept and keep syncing).
    #[error(
        "{0} entries have not reached the cloud yet; they stay on this till and keep syncing (confirm to go on)"
    )]
    Undelivered(u64),
}

impl SessionError {
    /// The stable code (see [`crate::error`]).
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::NotSetUp => "not_set_up",
            SessionError::NotSignedIn => "not_signed_in",
            SessionError::Locked => "locked",
            SessionError::PinRejected => "pin_rejected",
            SessionError::PinLocked { .. } => "pin_locked",
            SessionError::SupervisorRejected => "supervisor_rejected",
            SessionError::SupervisorRequired(_) => "supervisor_required",
            SessionError::Undelivered(_) => "undelivered",
        }
    }

    /// The values its worded message needs.
    pub fn params(&self) -> Params {
        match self {
            SessionError::PinLocked { seconds } => param("seconds", seconds),
            SessionError::Undelivered(count) => param("count", count),
            SessionError::NotSetUp
            | SessionError::NotSignedIn
            | SessionError::Locked
            | SessionError::PinRejected
            | SessionError::SupervisorRejected
            | SessionError::SupervisorRequired(_) => Params::new(),
        }
    }
}

/// How many products a name search returns.
const SEARCH_LIMIT: usize = 20;
/// How many undelivered entries the list shows at once.
const UNDELIVERED_LIMIT: u32 = 200;

/// A stored sale and the copy of its receipt.
struct SaleCopy {
    status: String,
    /// The till that sold it, when not this one.
    other_till: Option<String>,
    sold_at_ms: i64,
    sale: sentra_protocol::payload::SaleCompleted,
    bytes: Vec<u8>,
    preview: Vec<String>,
}

/// Items to refund as typed: a code and a quantity each.
fn refund_items(items: &[RefundItem]) -> Result<Vec<(String, Quantity)>> {
    items
        .iter()
        .map(|i| Ok((i.code.trim().to_owned(), cart::parse_quantity(&i.quantity)?)))
        .collect()
}

/// The reason recorded with a void or refund names who approved it.
fn approved(reason: Option<String>, supervisor: &Operator) -> String {
    match reason.filter(|r| !r.trim().is_empty()) {
        Some(r) => format!("{} (approved by {})", r.trim(), supervisor.name),
        None => format!("approved by {}", supervisor.name),
    }
}

pub struct PosSession {
    terminal: Terminal,
    operator: Option<Operator>,
    locked: bool,
    cart: Cart,
    changed: Option<usize>,
    settings: PosSettings,
    /// Whether a sync round has ended since this session began: until
    /// then the stored outcome is the last run's, not the truth now.
    round_seen: bool,
    /// The tender and the last payment, for the customer display.
    customer: super::customer::CustomerDisplay,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl PosSession {
    pub fn new(terminal: Terminal) -> Result<PosSession> {
        let settings = settings::load(terminal.connection())?;
        Ok(PosSession {
            terminal,
            operator: None,
            locked: false,
            cart: Cart::default(),
            changed: None,
            settings,
            round_seen: false,
            customer: Default::default(),
        })
    }

    pub fn terminal(&self) -> &Terminal {
        &self.terminal
    }

    pub fn terminal_mut(&mut self) -> &mut Terminal {
        &mut self.terminal
    }

    pub fn into_terminal(self) -> Terminal {
        self.terminal
    }

    pub fn settings(&self) -> &PosSettings {
        &self.settings
    }

    /// The branch as head office set it (pulled), over the till's own
    /// settings: what receipts print and how scale labels are read.
    pub fn branch(&self) -> Result<BranchProfile> {
        let manifest = self.terminal.manifest();
        let pulled = crate::sync::branch_settings(self.terminal.connection(), &manifest.branch)?;
        Ok(BranchProfile::new(
            pulled.as_ref(),
            &self.settings,
            &manifest.branch,
            &manifest.device_name,
        ))
    }

    // ------------------------------------------------------------ status

    pub fn status(&self) -> Result<AppStatus> {
        let conn = self.terminal.connection();
        let shift = match self.terminal.x_report() {
            Ok(r) => Some(ShiftView {
                shift_id: r.shift_id.to_string(),
                opened_at_ms: r.opened_at_ms,
                cashier: r.cashier,
                opening_float: r.opening_float,
                expected_cash: r.expected_cash,
                sales_count: r.totals.sales_count,
            }),
            Err(TerminalError::Sale(SaleError::NoOpenShift)) => None,
            Err(e) => return Err(e),
        };
        let parked: u32 = conn.query_row("SELECT count(*) FROM parked_sales", [], |r| r.get(0))?;
        Ok(AppStatus {
            setup: settings::mode(conn)?,
            branch: self.terminal.manifest().branch.clone(),
            device_name: self.terminal.manifest().device_name.clone(),
            operator: self.operator.clone(),
            locked: self.locked,
            shift,
            settings: self.settings.clone(),
            parked,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })
    }

    /// Saves what the till may change about itself. The discount level that
    /// needs a supervisor's PIN is a control, not a preference: it comes
    /// from head office (branch settings) only, so a signed-in cashier
    /// cannot switch discount approval off from the settings screen.
    pub fn save_settings(&mut self, new: PosSettings) -> Result<AppStatus> {
        self.operator()?;
        if new.supervisor_discount_pct.trim() != self.settings.supervisor_discount_pct.trim() {
            return Err(TerminalError::invalid(
                "supervisor discount threshold",
                "it is set by head office; the till cannot change it",
            ));
        }
        settings::save(self.terminal.connection(), &new)?;
        self.settings = new;
        self.status()
    }

    /// Names the receipt printer with no one signed in: the address the
    /// installer or the environment gave, when the app starts or a till is
    /// set up.
    pub fn set_printer(&mut self, printer: Option<String>) -> Result<()> {
        let mut new = self.settings.clone();
        new.printer = printer;
        settings::save(self.terminal.connection(), &new)?;
        self.settings = new;
        Ok(())
    }

    // ----------------------------------------------------------- sign-in

    pub fn cashiers(&self) -> Result<Vec<Operator>> {
        cashiers::list(self.terminal.connection())
    }

    pub fn sign_in(&mut self, user_id: &str, pin: &str) -> Result<AppStatus> {
        let checked = cashiers::verify_counted(self.terminal.connection(), user_id, pin);
        self.terminal.journal_pin_lockouts()?;
        let op = checked?;
        if self
            .operator
            .as_ref()
            .is_some_and(|o| o.user_id != op.user_id)
            && !self.cart.is_empty()
        {
            return Err(TerminalError::invalid(
                "sign-in",
                "another cashier has a sale in progress; they must finish or park it",
            ));
        }
        self.operator = Some(op);
        self.locked = false;
        self.status()
    }

    /// Lock the till (the cashier steps away); the cart is kept.
    pub fn lock(&mut self) -> Result<AppStatus> {
        self.operator()?;
        self.locked = true;
        self.status()
    }

    /// Unlock with the signed-in cashier's PIN or a supervisor's.
    pub fn unlock(&mut self, pin: &str) -> Result<AppStatus> {
        let op = self.operator.clone().ok_or(SessionError::NotSignedIn)?;
        let checked = cashiers::verify_counted(self.terminal.connection(), &op.user_id, pin);
        self.terminal.journal_pin_lockouts()?;
        match checked {
            Ok(_) => {}
            Err(e @ TerminalError::Session(SessionError::PinLocked { .. })) => return Err(e),
            // Bounded by the cashier's own lock-out, checked first.
            Err(_) => {
                cashiers::verify_supervisor(self.terminal.connection(), pin)
                    .map_err(|_| SessionError::PinRejected)?;
            }
        }
        self.locked = false;
        self.status()
    }

    /// Sign out. With entries not yet in the cloud the cashier must confirm;
    /// the entries are never deleted, they keep syncing.
    pub fn sign_out(&mut self, confirmed: bool) -> Result<AppStatus> {
        self.operator()?;
        if !self.cart.is_empty() {
            return Err(TerminalError::invalid(
                "sign-out",
                "a sale is in progress: finish it, park it or clear it first",
            ));
        }
        self.check_delivered(confirmed)?;
        self.operator = None;
        self.locked = false;
        self.status()
    }

    fn check_delivered(&self, confirmed: bool) -> Result<()> {
        if confirmed || settings::mode(self.terminal.connection())? == Some(SetupMode::Trial) {
            return Ok(());
        }
        let s = self.terminal.sync_status()?;
        let undelivered = s.entries.local + s.entries.relay_only;
        if undelivered > 0 {
            return Err(SessionError::Undelivered(undelivered).into());
        }
        Ok(())
    }

    fn operator(&self) -> Result<&Operator> {
        let op = self.operator.as_ref().ok_or(SessionError::NotSignedIn)?;
        if self.locked {
            return Err(SessionError::Locked.into());
        }
        Ok(op)
    }

    fn supervisor(&mut self, pin: Option<&str>, why: &str) -> Result<Operator> {
        let op = self.operator()?;
        if op.is_supervisor() {
            return Ok(op.clone());
        }
        match pin {
            None => Err(SessionError::SupervisorRequired(why.to_owned()).into()),
            Some(pin) => {
                let checked = cashiers::verify_supervisor_counted(self.terminal.connection(), pin);
                self.terminal.journal_pin_lockouts()?;
                checked
            }
        }
    }

    // ------------------------------------------------------------- shift

    pub fn open_shift(&mut self, float: i64) -> Result<AppStatus> {
        let name = self.operator()?.name.clone();
        self.terminal.open_shift(float, Some(name))?;
        self.status()
    }

    pub fn cash_move(
        &mut self,
        direction: &str,
        amount: i64,
        reason: Option<String>,
    ) -> Result<AppStatus> {
        self.operator()?;
        let direction = match direction {
            "in" => CashDirection::In,
            "out" => CashDirection::Out,
            other => {
                return Err(TerminalError::invalid(
                    "cash movement",
                    format!("{other:?} is not in or out"),
                ));
            }
        };
        self.terminal.move_cash(direction, amount, reason)?;
        self.status()
    }

    pub fn x_report(&mut self, print: bool) -> Result<ReportView> {
        self.operator()?;
        let report = self.terminal.x_report()?;
        self.report_view(report, print)
    }

    /// Close the shift with the counted cash: the Z report, printed when a
    /// printer is set up. Warns (needs `confirmed`) while entries are
    /// undelivered.
    ///
    /// `denominations` is the drawer counted by note and coin (empty when
    /// the cashier typed the total): it must add up to `counted_cash`, and
    /// the Z report lists it.
    pub fn close_shift(
        &mut self,
        counted_cash: i64,
        denominations: Vec<CashCountInput>,
        confirmed: bool,
    ) -> Result<ReportView> {
        self.operator()?;
        if !self.cart.is_empty() {
            return Err(TerminalError::invalid(
                "shift close",
                "a sale is in progress: finish it, park it or clear it first",
            ));
        }
        self.check_delivered(confirmed)?;
        let denominations = denominations
            .into_iter()
            .map(|d| CashCount {
                value: d.value,
                count: d.count,
            })
            .collect();
        let report = self
            .terminal
            .close_shift_counted(counted_cash, denominations)?;
        self.report_view(report, true)
    }

    /// Opens the cash drawer without a sale ("no sale") for `reason`:
    /// journaled with the cashier's name and counted on the X/Z report; with
    /// a printer, a slip saying so is printed as the drawer opens.
    pub fn open_drawer(&mut self, reason: &str) -> Result<NoSaleDone> {
        let cashier = self.operator()?.name.clone();
        if !self.cart.is_empty() {
            return Err(TerminalError::invalid(
                "no sale",
                "a sale is in progress: the drawer opens when it is paid",
            ));
        }
        let done = self.terminal.open_drawer(reason, Some(cashier.clone()))?;
        let english = self.settings.language == "en";
        let title = if english {
            "NO SALE"
        } else {
            "TANPA PENJUALAN"
        };
        let who = if english { "Cashier" } else { "Kasir" };
        let lines = vec![
            format!("*** {title} ***"),
            done.payload.reason.clone(),
            format!("{who}: {cashier}"),
            chrono::Local::now().format("%d/%m/%Y %H:%M").to_string(),
        ];
        let (bytes, _) = receipt::render_slip(lines, self.settings.paper, true)?;
        let print_job = self.enqueue("no-sale", "drawer", &bytes)?;
        let no_sales = self.terminal.x_report()?.totals.no_sales;
        Ok(NoSaleDone {
            no_sales,
            print_job,
        })
    }

    fn report_view(
        &mut self,
        report: crate::reports::ShiftReport,
        print: bool,
    ) -> Result<ReportView> {
        let text: Vec<String> = report
            .to_text_in(&self.settings.language)
            .lines()
            .map(str::to_owned)
            .collect();
        let (bytes, lines) = receipt::render_text(text, self.settings.paper)?;
        let print_job = if print {
            self.enqueue(&format!("{}-report", report.report), "report", &bytes)?
        } else {
            None
        };
        Ok(ReportView {
            kind: report.report.clone(),
            lines,
            sales_count: report.totals.sales_count,
            sales_total: report.totals.sales_total,
            voids_count: report.totals.voids_count,
            no_sales: report.totals.no_sales,
            refunds_total: report.totals.refunds_total,
            payments: report
                .totals
                .payments
                .iter()
                .map(|(m, a)| PaymentTotal {
                    method: m.clone(),
                    amount: *a,
                })
                .collect(),
            expected_cash: report.expected_cash,
            counted_cash: report.counted_cash,
            variance: report.variance,
            print_job,
        })
    }

    fn enqueue(&self, document: &str, kind: &str, bytes: &[u8]) -> Result<Option<i64>> {
        if self.settings.printer.is_none() {
            return Ok(None);
        }
        print_queue::enqueue(self.terminal.connection(), document, kind, bytes, now_ms()).map(Some)
    }

    // -------------------------------------------------------------- cart

    pub fn cart(&self) -> Result<CartView> {
        if self.cart.is_empty() {
            // Nothing to price (the pricing rules refuse an empty sale).
            return Ok(CartView {
                lines: Vec::new(),
                discount: self.cart.discount.clone(),
                gross: 0,
                discounts: 0,
                tax: 0,
                total: 0,
                tax_mode: self.terminal.tax_config().mode.as_str().to_owned(),
                changed: None,
                quick_cash: Vec::new(),
            });
        }
        let conn = self.terminal.connection();
        // Pricing looks every product up, stock on hand included: keep that
        // figure for the lines rather than work it out a second time.
        let mut on_hand: HashMap<String, Option<i64>> = HashMap::new();
        let priced = self.cart.price(self.terminal.tax_config(), |sku| {
            let product = catalog::find_by_code(conn, sku)?;
            if let Some(p) = &product {
                on_hand.insert(p.sku.clone(), p.on_hand_milli);
            }
            Ok(product)
        })?;
        let lines = priced
            .lines
            .iter()
            .zip(&self.cart.items)
            .enumerate()
            .map(|(i, (p, item))| CartLineView {
                index: i as u32,
                sku: p.sku.clone(),
                name: p.name.clone(),
                quantity_milli: p.quantity.milli(),
                unit_price: p.unit_price.minor(),
                discount: item.discount.clone(),
                gross: p.gross.minor(),
                discount_amount: p.line_discount.minor(),
                total: p.total.minor(),
                on_hand_milli: on_hand.get(&p.sku).copied().flatten(),
            })
            .collect();
        Ok(CartView {
            lines,
            discount: self.cart.discount.clone(),
            gross: priced.gross.minor(),
            discounts: priced.discounts().minor(),
            tax: priced.tax.minor(),
            total: priced.total.minor(),
            tax_mode: priced.tax_mode.as_str().to_owned(),
            changed: self.changed.map(|c| c as u32),
            quick_cash: cart::quick_cash_amounts(priced.total.minor()),
        })
    }

    /// A scan or typed code (`3*CODE` rings three). Unknown codes are an
    /// error and leave the cart as it was.
    pub fn scan(&mut self, input: &str) -> Result<CartView> {
        self.operator()?;
        let (quantity, code) = cart::split_multiplier(input)?;
        let Some(product) = self.terminal.find_product(&code)? else {
            return self.scan_label(&code, quantity);
        };
        if !product.active {
            return Err(SaleError::NotSold(product.sku).into());
        }
        self.changed = Some(self.cart.add(&product.sku, quantity)?);
        self.cart()
    }

    /// A code the catalog does not know, read as an in-store scale label
    /// under the branch's rules (rule 10 of `docs/money.md`): each label is
    /// a line of its own, with the weight or the quantity its price buys.
    fn scan_label(&mut self, code: &str, multiplier: Quantity) -> Result<CartView> {
        let rules = self.branch()?.scale_rules;
        let label = match scale_label::read_label(code, &rules) {
            None => return Err(SaleError::UnknownItem(code.to_owned()).into()),
            Some(Err(e)) => return Err(SaleError::BadLabel(e.to_string()).into()),
            Some(Ok(label)) => label,
        };
        if multiplier.milli() != 1000 {
            return Err(SaleError::BadLabel(format!(
                "the label {code} carries its own quantity: scan it without a multiplier"
            ))
            .into());
        }
        let product = match self.terminal.find_product(&label.item_barcode)? {
            Some(p) => Some(p),
            None => self.terminal.find_product(&label.item_code)?,
        }
        .ok_or_else(|| {
            SaleError::BadLabel(format!(
                "no product has the scale item code {} (barcode {} or SKU {})",
                label.item_code, label.item_barcode, label.item_code
            ))
        })?;
        if !product.active {
            return Err(SaleError::NotSold(product.sku).into());
        }
        let milli = match label.embeds {
            Embeds::Weight => label.value,
            Embeds::Price => scale_label::quantity_for_price(label.value, product.unit_price)
                .ok_or_else(|| {
                    SaleError::BadLabel(format!(
                        "{} has no price here, so the label's Rp {} cannot be rung",
                        product.name, label.value
                    ))
                })?,
        };
        self.changed = Some(
            self.cart
                .add_line(&product.sku, Quantity::from_milli(milli))?,
        );
        self.cart()
    }

    pub fn search(&self, text: &str) -> Result<Vec<ProductHit>> {
        self.operator()?;
        Ok(self
            .terminal
            .search_products(text, SEARCH_LIMIT)?
            .into_iter()
            .filter(|p| p.active)
            .map(|p| ProductHit {
                barcode: p.barcodes.first().cloned(),
                on_hand_milli: p.on_hand_milli,
                sku: p.sku,
                name: p.name,
                unit_price: p.unit_price,
            })
            .collect())
    }

    pub fn set_quantity(&mut self, index: u32, quantity: &str) -> Result<CartView> {
        self.operator()?;
        let q = cart::parse_quantity(quantity)?;
        self.cart.set_quantity(index as usize, q)?;
        self.changed = Some(index as usize);
        self.cart()
    }

    pub fn remove_line(&mut self, index: u32) -> Result<CartView> {
        self.operator()?;
        self.cart.remove(index as usize)?;
        self.changed = None;
        self.cart()
    }

    /// Set (or clear with `None`) a line's discount. Above the threshold a
    /// supervisor PIN is needed.
    pub fn set_line_discount(
        &mut self,
        index: u32,
        discount: Option<DiscountInput>,
        supervisor_pin: Option<&str>,
    ) -> Result<CartView> {
        self.operator()?;
        let mut trial = self.cart.clone();
        trial.set_line_discount(index as usize, discount)?;
        let priced = self.price(&trial)?;
        let line = priced
            .lines
            .get(index as usize)
            .ok_or_else(|| TerminalError::invalid("line", "not in the cart"))?;
        if let Some(by) = self.approve_discount(line.line_discount, line.gross, supervisor_pin)? {
            trial.discount_approved_by = Some(by);
        }
        self.cart = trial;
        self.changed = Some(index as usize);
        self.cart()
    }

    pub fn set_cart_discount(
        &mut self,
        discount: Option<DiscountInput>,
        supervisor_pin: Option<&str>,
    ) -> Result<CartView> {
        self.operator()?;
        let mut trial = self.cart.clone();
        trial.discount = discount;
        let priced = self.price(&trial)?;
        let base = Money::idr(priced.gross.minor() - priced.line_discounts.minor());
        if let Some(by) =
            self.approve_discount(priced.cart_discount_amount, base, supervisor_pin)?
        {
            trial.discount_approved_by = Some(by);
        }
        self.cart = trial;
        self.cart()
    }

    /// A discount of `amount` on `base` above the threshold needs a
    /// supervisor (signed in, or by PIN); the approver's name, when one was
    /// needed.
    fn approve_discount(
        &mut self,
        amount: Money,
        base: Money,
        supervisor_pin: Option<&str>,
    ) -> Result<Option<String>> {
        if cart::needs_supervisor(amount, base, self.settings.threshold()?) {
            let why = format!(
                "a discount above {}%",
                self.settings.supervisor_discount_pct
            );
            return Ok(Some(self.supervisor(supervisor_pin, &why)?.name));
        }
        Ok(None)
    }

    fn price(&self, cart: &Cart) -> Result<sentra_domain::PricedSale> {
        let conn = self.terminal.connection();
        cart.price(self.terminal.tax_config(), |sku| {
            catalog::find_by_code(conn, sku)
        })
    }

    pub fn clear_cart(&mut self) -> Result<CartView> {
        self.operator()?;
        self.cart = Cart::default();
        self.changed = None;
        self.cart()
    }

    // ------------------------------------------------------------ parking

    pub fn park(&mut self, label: &str) -> Result<CartView> {
        let cashier = self.operator()?.name.clone();
        if self.cart.is_empty() {
            return Err(TerminalError::invalid("park", "the cart is empty"));
        }
        let json = serde_json::to_string(&self.cart)
            .map_err(|e| TerminalError::invalid("park", e.to_string()))?;
        let label = match label.trim() {
            "" => format!("{} #{}", cashier, self.status()?.parked + 1),
            l => l.chars().take(40).collect(),
        };
        self.terminal.connection().execute(
            "INSERT INTO parked_sales (park_id, parked_at_ms, cashier, label, cart_json)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![Uuid::now_v7().to_string(), now_ms(), cashier, label, json],
        )?;
        self.cart = Cart::default();
        self.changed = None;
        self.cart()
    }

    pub fn parked(&self) -> Result<Vec<ParkedSale>> {
        self.operator()?;
        let mut stmt = self.terminal.connection().prepare_cached(
            "SELECT park_id, label, parked_at_ms, cashier, cart_json FROM parked_sales
             ORDER BY parked_at_ms, park_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (park_id, label, parked_at_ms, cashier, json) = row?;
            let items = serde_json::from_str::<Cart>(&json)
                .map(|c| c.items.len() as u32)
                .unwrap_or(0);
            out.push(ParkedSale {
                park_id,
                label,
                parked_at_ms,
                cashier,
                items,
            });
        }
        Ok(out)
    }

    /// Bring a parked sale back; the current cart must be empty.
    pub fn resume(&mut self, park_id: &str) -> Result<CartView> {
        self.operator()?;
        if !self.cart.is_empty() {
            return Err(TerminalError::invalid(
                "resume",
                "finish or park the current sale first",
            ));
        }
        let tx = self.terminal.connection().unchecked_transaction()?;
        let json: String = tx
            .query_row(
                "SELECT cart_json FROM parked_sales WHERE park_id = ?1",
                [park_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| TerminalError::invalid("parked sale", format!("{park_id} not found")))?;
        let cart: Cart = serde_json::from_str(&json)
            .map_err(|e| TerminalError::invalid("parked sale", format!("unreadable: {e}")))?;
        tx.execute("DELETE FROM parked_sales WHERE park_id = ?1", [park_id])?;
        tx.commit()?;
        self.cart = cart;
        self.changed = None;
        self.cart()
    }

    // ------------------------------------------------------------ tender

    /// Pay and record the sale: durable when this returns. The receipt goes
    /// to the print queue; printing never holds up the sale.
    pub fn pay(&mut self, tenders: &[TenderInput]) -> Result<SaleDone> {
        let cashier = self.operator()?.name.clone();
        if self.cart.is_empty() {
            return Err(TerminalError::invalid("payment", "the cart is empty"));
        }
        let mut domain_tenders = Vec::with_capacity(tenders.len());
        for t in tenders {
            let method: PaymentMethod = t.method.parse()?;
            let reference = t
                .reference
                .as_ref()
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty());
            domain_tenders.push(Tender {
                method,
                amount: Money::idr(t.amount),
                reference,
            });
        }
        let request = SaleRequest {
            items: self
                .cart
                .items
                .iter()
                .map(|i| -> Result<ItemRequest> {
                    Ok(ItemRequest {
                        code: i.sku.clone(),
                        quantity: Quantity::from_milli(i.quantity_milli),
                        discount: i
                            .discount
                            .as_ref()
                            .map(DiscountInput::to_domain)
                            .transpose()?,
                    })
                })
                .collect::<Result<_>>()?,
            cart_discount: self
                .cart
                .discount
                .as_ref()
                .map(DiscountInput::to_domain)
                .transpose()?,
            tenders: domain_tenders,
            cashier: Some(cashier),
            discount_approved_by: self.cart.discount_approved_by.clone(),
        };
        let sale = self.terminal.sell(&request)?;
        self.customer.sale_paid(&sale.payload);
        self.cart = Cart::default();
        self.changed = None;
        let doc = receipt::sale_doc(&sale.payload, now_ms(), &self.branch()?, false);
        let (bytes, preview) = receipt::render(&doc, self.settings.paper)?;
        let print_job = self.enqueue(&sale.payload.receipt_no, "receipt", &bytes)?;
        Ok(SaleDone {
            receipt_no: sale.payload.receipt_no.clone(),
            total: sale.payload.total,
            paid: sale.payload.paid,
            change: sale.payload.change,
            preview,
            print_job,
        })
    }

    // ------------------------------------------------- receipts, voids

    /// A stored sale as a copy of its receipt: status, time, payload, and
    /// the printer bytes and screen lines of the copy.
    fn sale_copy(&self, receipt_no: &str) -> Result<SaleCopy> {
        let conn = self.terminal.connection();
        let receipt_no = receipt_no.trim();
        let (status, sold_at_ms): (String, i64) = conn
            .query_row(
                "SELECT status, sold_at_ms FROM sales WHERE receipt_no = ?1",
                [receipt_no],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or_else(|| SaleError::UnknownReceipt(receipt_no.to_owned()))?;
        let sale = projection::load_sale_payload(conn, self.terminal.device_id(), receipt_no)?;
        let doc = receipt::sale_doc(&sale, sold_at_ms, &self.branch()?, true);
        let (bytes, preview) = receipt::render(&doc, self.settings.paper)?;
        Ok(SaleCopy {
            status,
            other_till: None,
            sold_at_ms,
            sale,
            bytes,
            preview,
        })
    }

    /// A receipt of this till, or one of another till fetched for a return
    /// ([`PosSession::adopt_foreign_sale`]); `unknown_receipt` otherwise.
    pub fn receipt(&self, receipt_no: &str) -> Result<ReceiptView> {
        self.operator()?;
        let copy = match self.sale_copy(receipt_no) {
            Err(TerminalError::Sale(SaleError::UnknownReceipt(_))) => {
                self.foreign_copy(receipt_no)?
            }
            other => other?,
        };
        let other_till = copy.other_till.clone();
        Ok(ReceiptView {
            receipt_no: copy.sale.receipt_no.clone(),
            status: copy.status,
            other_till,
            total: copy.sale.total,
            sold_at_ms: copy.sold_at_ms,
            lines: copy
                .sale
                .lines
                .iter()
                .map(|l| ReceiptLineView {
                    sku: l.sku.clone(),
                    name: l.name.clone(),
                    quantity_milli: l.quantity_milli,
                    total: l.total,
                })
                .collect(),
            preview: copy.preview,
        })
    }

    /// A sale of another till kept for its return, as a copy.
    fn foreign_copy(&self, receipt_no: &str) -> Result<SaleCopy> {
        let receipt_no = receipt_no.trim();
        let foreign = self
            .terminal
            .foreign_sale(receipt_no)?
            .ok_or_else(|| SaleError::UnknownReceipt(receipt_no.to_owned()))?;
        let sold_at_ms = i64::try_from(foreign.entry.hlc.wall_ms).unwrap_or(i64::MAX);
        let doc = receipt::sale_doc(&foreign.sale, sold_at_ms, &self.branch()?, true);
        let (bytes, preview) = receipt::render(&doc, self.settings.paper)?;
        // The receipt number names the till: BRANCH-TILL-NUMBER.
        let till = receipt_no
            .rsplit_once('-')
            .and_then(|(head, _)| head.split_once('-'))
            .map_or_else(
                || foreign.entry.device_id.to_string(),
                |(_, t)| t.to_owned(),
            );
        Ok(SaleCopy {
            status: if foreign.voided {
                "voided"
            } else {
                "completed"
            }
            .to_owned(),
            other_till: Some(till),
            sold_at_ms,
            sale: foreign.sale,
            bytes,
            preview,
        })
    }

    /// Where another till's receipt can be looked up (relay, then cloud);
    /// the host asks them without holding the session.
    pub fn receipt_sources(&self) -> Result<Vec<crate::sync::Upstream>> {
        self.operator()?;
        self.terminal.receipt_sources()
    }

    /// Verifies and keeps another till's sale an upstream served.
    pub fn adopt_foreign_sale(
        &mut self,
        receipt_no: &str,
        from: crate::sync::UpstreamKind,
        served: &sentra_protocol::wire::ReceiptResponse,
    ) -> Result<()> {
        self.operator()?;
        self.terminal
            .adopt_foreign_sale(receipt_no, from, served)
            .map(|_| ())
    }

    /// The last receipt of this till, for "reprint last".
    pub fn last_receipt_no(&self) -> Result<Option<String>> {
        Ok(self
            .terminal
            .connection()
            .query_row(
                "SELECT receipt_no FROM sales ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Print a copy (marked as such; the drawer stays shut).
    pub fn reprint(&mut self, receipt_no: &str) -> Result<Option<i64>> {
        self.operator()?;
        if self.settings.printer.is_none() {
            return Err(TerminalError::invalid("reprint", "no printer is set up"));
        }
        let copy = self.sale_copy(receipt_no)?;
        self.enqueue(&copy.sale.receipt_no, "reprint", &copy.bytes)
    }

    /// Void a sale of the open shift; always needs a supervisor.
    pub fn void(
        &mut self,
        receipt_no: &str,
        supervisor_pin: Option<&str>,
        reason: Option<String>,
    ) -> Result<AppStatus> {
        let sup = self.supervisor(supervisor_pin, "voiding a sale")?;
        let reason = Some(approved(reason, &sup));
        self.terminal.void(receipt_no.trim(), reason)?;
        self.status()
    }

    /// Refund items of an earlier sale; always needs a supervisor.
    pub fn refund(
        &mut self,
        receipt_no: &str,
        items: &[RefundItem],
        method: &str,
        supervisor_pin: Option<&str>,
        reason: Option<String>,
    ) -> Result<RefundDone> {
        let sup = self.supervisor(supervisor_pin, "a refund")?;
        let method: PaymentMethod = method.parse()?;
        let items = refund_items(items)?;
        let reason = Some(approved(reason, &sup));
        let refund = self
            .terminal
            .refund(receipt_no.trim(), &items, method, reason)?;
        self.refund_note(&refund)
    }

    /// The refund note of a refund just recorded: printed (when a printer
    /// is set up) and shown.
    fn refund_note(&self, refund: &crate::RefundReceipt) -> Result<RefundDone> {
        let conn = self.terminal.connection();
        let names = |sku: &str| {
            catalog::find_by_code(conn, sku)
                .ok()
                .flatten()
                .map(|p| p.name)
                .unwrap_or_else(|| sku.to_owned())
        };
        let doc = receipt::refund_doc(&refund.payload, &names, now_ms(), &self.branch()?);
        let (bytes, preview) = receipt::render(&doc, self.settings.paper)?;
        let print_job = self.enqueue(&refund.payload.refund_no, "refund", &bytes)?;
        Ok(RefundDone {
            refund_no: refund.payload.refund_no.clone(),
            total: refund.payload.total,
            preview,
            print_job,
        })
    }

    /// A return without the original sale (offline: no upstream could
    /// produce it). Always a supervisor's, always with a reason; priced from
    /// the catalog; flagged for head office by the cloud.
    pub fn refund_unverified(
        &mut self,
        receipt_no: &str,
        items: &[RefundItem],
        method: &str,
        supervisor_pin: Option<&str>,
        reason: &str,
    ) -> Result<RefundDone> {
        if reason.trim().is_empty() {
            return Err(TerminalError::invalid(
                "reason",
                "a return without the original needs a reason",
            ));
        }
        let sup = self.supervisor(supervisor_pin, "a return without the original sale")?;
        let method: PaymentMethod = method.parse()?;
        let items = refund_items(items)?;
        let reason = approved(Some(reason.to_owned()), &sup);
        let refund = self
            .terminal
            .refund_unverified(receipt_no, &items, method, &reason)?;
        self.refund_note(&refund)
    }

    // ------------------------------------------------- customer display

    /// What the customer display shows now (`customer.rs`): the cart, the
    /// tender, or the last payment's change until the next sale has items.
    pub fn customer_view(&mut self) -> Result<super::customer::CustomerView> {
        let cart = self.cart()?;
        self.customer.cart_changed(&cart);
        let store = self.branch()?.store_name;
        Ok(self.customer.view(&cart, &store, &self.settings.language))
    }

    /// The cashier's tender screen, for the customer display: the method
    /// and what is tendered so far, or `None` when the cashier is back on
    /// the scan screen (tender cancelled, or the next sale).
    pub fn customer_tender(
        &mut self,
        progress: Option<super::customer::TenderProgress>,
    ) -> Result<super::customer::CustomerView> {
        self.customer.set_tender(progress, self.cart.is_empty())?;
        self.customer_view()
    }

    // ------------------------------------------------------ print, sync

    pub fn print_jobs(&self) -> Result<Vec<print_queue::PrintJob>> {
        print_queue::list(self.terminal.connection(), 10)
    }

    /// A sync round ended (whatever its outcome): the state shown is now
    /// this run's.
    pub fn note_sync_round(&mut self) {
        self.round_seen = true;
    }

    pub fn sync_view(&self) -> Result<SyncView> {
        let mode = settings::mode(self.terminal.connection())?;
        let s = self.terminal.sync_status()?;
        let relay_configured = s.relay_url.is_some();
        let state = if mode == Some(SetupMode::Trial) {
            "local_only"
        } else if !self.round_seen {
            // After a restart the stored outcome is the last run's: say
            // so rather than show "online" for a till that is not.
            "checking"
        } else if s.master_data_alert.is_some() {
            // Someone altered prices, cashiers or tax rates on the way:
            // the till keeps selling on the old ones, but people must know.
            "master_data_refused"
        } else {
            match s.last_outcome.as_deref() {
                None => "waiting",
                Some("ok") if s.entries.local + s.entries.relay_only > 0 => "syncing",
                Some("ok") => "online",
                Some("relay_unreachable") => "relay_unreachable",
                Some("uplink_down") => "uplink_down",
                Some("cloud_refusing") => "cloud_refusing",
                // Neither the relay nor the cloud answered: with a relay
                // configured that is the branch LAN; without, this till's
                // own connection.
                Some("cloud_unreachable") if relay_configured => "relay_unreachable",
                Some(_) => "offline",
            }
        };
        Ok(SyncView {
            state: state.to_owned(),
            message: s
                .master_data_alert
                .as_ref()
                .map(|a| a.message.clone())
                .or_else(|| s.last_error.as_ref().map(|e| e.message.clone())),
            local: s.entries.local,
            relay_only: s.entries.relay_only,
            in_cloud: s.entries.cloud,
            refused: s.refusals.len() as u64,
            last_success_ms: s.last_success_ms,
            last_upstream: s.last_upstream,
            relay_configured,
        })
    }

    /// Entries not yet held by the cloud, newest first, and refusals.
    pub fn undelivered(&self) -> Result<UndeliveredView> {
        let s = self.terminal.sync_status()?;
        let conn = self.terminal.connection();
        let mut stmt = conn.prepare_cached(
            "SELECT seq, kind, hlc_wall_ms FROM journal
             WHERE device_id = ?1 AND seq > ?2 ORDER BY seq DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(
            params![
                self.terminal.device_id().to_string(),
                s.cloud_acked_seq as i64,
                UNDELIVERED_LIMIT
            ],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            },
        )?;
        let mut entries = Vec::new();
        for row in rows {
            let (seq, kind, at_ms) = row?;
            let seq = seq as u64;
            entries.push(PendingEntry {
                seq,
                kind,
                at_ms,
                held_by: if seq <= s.relay_acked_seq {
                    "relay"
                } else {
                    "local"
                }
                .to_owned(),
            });
        }
        let total = s.tip_seq.saturating_sub(s.cloud_acked_seq);
        Ok(UndeliveredView {
            more: total.saturating_sub(entries.len() as u64),
            entries,
            refused: s
                .refusals
                .into_iter()
                .map(|r| RefusedEntry {
                    seq: r.seq,
                    upstream: r.upstream,
                    reason: r.reason,
                    detail: r.detail,
                    at_ms: r.at_ms,
                })
                .collect(),
        })
    }
}

impl From<&TerminalError> for AppError {
    fn from(e: &TerminalError) -> AppError {
        AppError {
            code: e.code().to_owned(),
            message: e.to_string(),
            params: e.params(),
        }
    }
}

impl From<TerminalError> for AppError {
    fn from(e: TerminalError) -> AppError {
        AppError::from(&e)
    }
}
