//! The Sentra POS desktop shell. Every command is a thin call into
//! `sentra_terminal::pos`; the rules of the till live there. The shell owns
//! the windows (the till's, and the customer display: `customer_window.rs`),
//! the background threads (sync loop, print queue) and turns their reports
//! into events for the web views.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use sentra_terminal::pos::cart::DiscountInput;
use sentra_terminal::pos::cashiers::Operator;
use sentra_terminal::pos::customer::{CustomerView, TenderProgress};
use sentra_terminal::pos::print_queue::{PrintJob, PrintWorker};
use sentra_terminal::pos::settings::{CustomerDisplayMode, PosSettings, SetupMode};
use sentra_terminal::pos::views::*;
use sentra_terminal::pos::{self, AppError, PosSession};
use sentra_terminal::sync::{LoopEvent, LoopOptions, SyncLoop};
use sentra_terminal::{SessionError, Terminal, TerminalError};
use tauri::{AppHandle, Emitter, Manager, State};

mod customer_window;
mod install;
use customer_window::CustomerWindow;
use install::InstallSettings;

/// Everything the commands share.
struct Shell {
    app: AppHandle,
    data_dir: PathBuf,
    /// What the installer was told for this till (`install.rs`).
    install: InstallSettings,
    /// When the process started (epoch ms), for the cold-start figure.
    started_at_ms: u64,
    session: Mutex<Option<PosSession>>,
    sync: Mutex<Option<SyncLoop>>,
    printer: Mutex<Option<PrintWorker>>,
    customer_window: Arc<CustomerWindow>,
    /// The view last sent to the customer display.
    customer_sent: Mutex<Option<CustomerView>>,
}

type Reply<T> = Result<T, AppError>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the till down with it.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shell {
    /// Runs one command on the session. The customer display follows
    /// every command from here, whatever it changed (cart, tender,
    /// settings), so no command can forget to update it.
    fn with<T>(&self, f: impl FnOnce(&mut PosSession) -> sentra_terminal::Result<T>) -> Reply<T> {
        let (out, customer) = {
            let mut guard = lock(&self.session);
            let session = guard
                .as_mut()
                .ok_or_else(|| AppError::from(TerminalError::from(SessionError::NotSetUp)))?;
            let out = f(session).map_err(AppError::from);
            let customer = self
                .app
                .get_webview_window(customer_window::LABEL)
                .and_then(|_| session.customer_view().ok());
            (out, customer)
        };
        if let Some(view) = customer {
            self.show_customer(view);
        }
        out
    }

    /// Sends the customer display its view when it changed.
    fn show_customer(&self, view: CustomerView) {
        let mut sent = lock(&self.customer_sent);
        if sent.as_ref() != Some(&view) {
            let _ = self.app.emit_to(customer_window::LABEL, "customer", &view);
            *sent = Some(view);
        }
    }

    /// The customer display setting, `off` for a till not set up.
    fn customer_display_mode(&self) -> CustomerDisplayMode {
        lock(&self.session)
            .as_ref()
            .map(|s| s.settings().customer_display)
            .unwrap_or(CustomerDisplayMode::Off)
    }

    /// Opens or closes the customer display for the setting now, on a
    /// thread of its own (never a window from a synchronous command).
    fn place_customer_display(self: &Arc<Self>) {
        let shell = self.clone();
        std::thread::spawn(move || {
            shell
                .customer_window
                .reconcile(&shell.app, shell.customer_display_mode());
        });
    }

    fn kick_sync(&self) {
        if let Some(l) = lock(&self.sync).as_ref() {
            l.sync_now();
        }
    }

    /// After a command that wrote to the journal: the sync loop goes now,
    /// and the status bar's pending count changes at once (also on a trial
    /// till, which has no loop to report it).
    fn written(&self, app: &AppHandle) {
        self.kick_sync();
        if let Ok(view) = self.with(|s| s.sync_view()) {
            let _ = app.emit("sync", view);
        }
    }

    fn kick_printer(&self) {
        if let Some(p) = lock(&self.printer).as_ref() {
            p.kick();
        }
    }
}

/// Start the background threads for a till that is set up.
fn start_background(app: &AppHandle, shell: &Shell) {
    let dir = shell.data_dir.clone();
    let handle = app.clone();
    let printer = PrintWorker::spawn(
        move || Terminal::open(&dir),
        move |_event| {
            let shell = handle.state::<Arc<Shell>>();
            if let Ok(jobs) = shell.with(|s| s.print_jobs()) {
                let _ = handle.emit("print", jobs);
            }
        },
    );
    match printer {
        Ok(p) => *lock(&shell.printer) = Some(p),
        Err(e) => tracing::error!("cannot start the print thread: {e}"),
    }
    let enrolled = shell
        .with(|s| s.status())
        .map(|st| st.setup == Some(SetupMode::Enrolled))
        .unwrap_or(false);
    if enrolled && lock(&shell.sync).is_none() {
        let dir = shell.data_dir.clone();
        let handle = app.clone();
        let sync = SyncLoop::spawn(
            move || Terminal::open(&dir),
            LoopOptions::default(),
            move |event| {
                // Only a round that pulled master data changes prices or
                // cashiers under the till's own connection.
                let changed =
                    matches!(&event, LoopEvent::Round { report, .. } if report.settings_changed);
                let shell = handle.state::<Arc<Shell>>();
                if let Ok(view) = shell.with(|s| {
                    if changed {
                        s.terminal_mut().reload_settings()?;
                    }
                    s.note_sync_round();
                    s.sync_view()
                }) {
                    let _ = handle.emit("sync", view);
                }
            },
        );
        match sync {
            Ok(l) => *lock(&shell.sync) = Some(l),
            Err(e) => tracing::error!("cannot start the sync thread: {e}"),
        }
    }
}

fn set_up(app: &AppHandle, shell: &Shell, terminal: Terminal) -> Reply<AppStatus> {
    let mut session = PosSession::new(terminal).map_err(AppError::from)?;
    // The printer the installer was told, on a till that has none yet.
    if let Some(addr) = &shell.install.printer
        && session.settings().printer.is_none()
    {
        session.set_printer(Some(addr.clone()))?;
    }
    *lock(&shell.session) = Some(session);
    start_background(app, shell);
    app.state::<Arc<Shell>>().place_customer_display();
    shell.with(|s| s.status())
}

// ----------------------------------------------------------------- setup

#[derive(serde::Serialize)]
struct Boot {
    status: Option<AppStatus>,
    /// Epoch ms when the process started: the UI measures cold start
    /// against it.
    process_started_at_ms: u64,
    /// What the installer was told: the setup screen starts with it.
    install: InstallSettings,
}

#[tauri::command]
fn boot(shell: State<'_, Arc<Shell>>) -> Reply<Boot> {
    let status = if lock(&shell.session).is_some() {
        Some(shell.with(|s| s.status())?)
    } else {
        None
    };
    Ok(Boot {
        status,
        process_started_at_ms: shell.started_at_ms,
        install: shell.install.clone(),
    })
}

#[tauri::command]
async fn setup_trial(
    app: AppHandle,
    shell: State<'_, Arc<Shell>>,
    device_name: String,
    supervisor: String,
    pin: String,
) -> Reply<AppStatus> {
    let terminal = pos::setup_trial(&shell.data_dir, &device_name, &supervisor, &pin)?;
    set_up(&app, &shell, terminal)
}

#[tauri::command]
async fn setup_enrolled(
    app: AppHandle,
    shell: State<'_, Arc<Shell>>,
    branch: String,
    device_name: String,
    server: String,
    code: String,
    relay: Option<String>,
) -> Reply<AppStatus> {
    let relay = relay.filter(|r| !r.trim().is_empty());
    let terminal = if pos::is_set_up(&shell.data_dir) {
        let t = Terminal::open(&shell.data_dir)?;
        pos::retry_enroll(t, &server, &code, relay.as_deref()).await?
    } else {
        pos::setup_enrolled(
            &shell.data_dir,
            &branch,
            &device_name,
            &server,
            &code,
            relay.as_deref(),
        )
        .await?
    };
    *lock(&shell.session) = None;
    set_up(&app, &shell, terminal)
}

#[tauri::command]
fn status(shell: State<'_, Arc<Shell>>) -> Reply<AppStatus> {
    shell.with(|s| s.status())
}

#[tauri::command]
fn save_settings(shell: State<'_, Arc<Shell>>, settings: PosSettings) -> Reply<AppStatus> {
    let out = shell.with(|s| s.save_settings(settings));
    shell.kick_printer();
    shell.place_customer_display();
    out
}

// --------------------------------------------------------------- sign-in

#[tauri::command]
fn cashiers(shell: State<'_, Arc<Shell>>) -> Reply<Vec<Operator>> {
    shell.with(|s| s.cashiers())
}

#[tauri::command]
async fn sign_in(shell: State<'_, Arc<Shell>>, user_id: String, pin: String) -> Reply<AppStatus> {
    shell.with(|s| s.sign_in(&user_id, &pin))
}

#[tauri::command]
fn lock_till(shell: State<'_, Arc<Shell>>) -> Reply<AppStatus> {
    shell.with(|s| s.lock())
}

#[tauri::command]
async fn unlock(shell: State<'_, Arc<Shell>>, pin: String) -> Reply<AppStatus> {
    shell.with(|s| s.unlock(&pin))
}

#[tauri::command]
fn sign_out(shell: State<'_, Arc<Shell>>, confirmed: bool) -> Reply<AppStatus> {
    shell.with(|s| s.sign_out(confirmed))
}

// ----------------------------------------------------------------- shift

#[tauri::command]
fn open_shift(shell: State<'_, Arc<Shell>>, app: AppHandle, float: i64) -> Reply<AppStatus> {
    let out = shell.with(|s| s.open_shift(float));
    shell.written(&app);
    out
}

#[tauri::command]
fn cash_move(
    shell: State<'_, Arc<Shell>>,
    app: AppHandle,
    direction: String,
    amount: i64,
    reason: Option<String>,
) -> Reply<AppStatus> {
    let out = shell.with(|s| s.cash_move(&direction, amount, reason));
    shell.written(&app);
    out
}

#[tauri::command]
fn x_report(shell: State<'_, Arc<Shell>>, print: bool) -> Reply<ReportView> {
    let out = shell.with(|s| s.x_report(print));
    shell.kick_printer();
    out
}

#[tauri::command]
fn close_shift(
    shell: State<'_, Arc<Shell>>,
    app: AppHandle,
    counted_cash: i64,
    denominations: Option<Vec<CashCountInput>>,
    confirmed: bool,
) -> Reply<ReportView> {
    let out =
        shell.with(|s| s.close_shift(counted_cash, denominations.unwrap_or_default(), confirmed));
    shell.kick_printer();
    shell.written(&app);
    out
}

/// Opens the drawer without a sale, for a reason (journaled, on the X/Z).
#[tauri::command]
fn open_drawer(shell: State<'_, Arc<Shell>>, app: AppHandle, reason: String) -> Reply<NoSaleDone> {
    let out = shell.with(|s| s.open_drawer(&reason));
    shell.kick_printer();
    shell.written(&app);
    out
}

// ------------------------------------------------------------------ cart

#[tauri::command]
fn cart(shell: State<'_, Arc<Shell>>) -> Reply<CartView> {
    shell.with(|s| s.cart())
}

#[tauri::command]
fn scan(shell: State<'_, Arc<Shell>>, code: String) -> Reply<CartView> {
    shell.with(|s| s.scan(&code))
}

#[tauri::command]
fn search(shell: State<'_, Arc<Shell>>, text: String) -> Reply<Vec<ProductHit>> {
    shell.with(|s| s.search(&text))
}

#[tauri::command]
fn set_quantity(shell: State<'_, Arc<Shell>>, index: u32, quantity: String) -> Reply<CartView> {
    shell.with(|s| s.set_quantity(index, &quantity))
}

#[tauri::command]
fn remove_line(shell: State<'_, Arc<Shell>>, index: u32) -> Reply<CartView> {
    shell.with(|s| s.remove_line(index))
}

#[tauri::command]
async fn set_line_discount(
    shell: State<'_, Arc<Shell>>,
    index: u32,
    discount: Option<DiscountInput>,
    supervisor_pin: Option<String>,
) -> Reply<CartView> {
    shell.with(|s| s.set_line_discount(index, discount, supervisor_pin.as_deref()))
}

#[tauri::command]
async fn set_cart_discount(
    shell: State<'_, Arc<Shell>>,
    discount: Option<DiscountInput>,
    supervisor_pin: Option<String>,
) -> Reply<CartView> {
    shell.with(|s| s.set_cart_discount(discount, supervisor_pin.as_deref()))
}

#[tauri::command]
fn clear_cart(shell: State<'_, Arc<Shell>>) -> Reply<CartView> {
    shell.with(|s| s.clear_cart())
}

#[tauri::command]
fn park(shell: State<'_, Arc<Shell>>, label: String) -> Reply<CartView> {
    shell.with(|s| s.park(&label))
}

#[tauri::command]
fn parked(shell: State<'_, Arc<Shell>>) -> Reply<Vec<ParkedSale>> {
    shell.with(|s| s.parked())
}

#[tauri::command]
fn resume(shell: State<'_, Arc<Shell>>, park_id: String) -> Reply<CartView> {
    shell.with(|s| s.resume(&park_id))
}

// ---------------------------------------------------------------- tender

#[tauri::command]
fn pay(shell: State<'_, Arc<Shell>>, app: AppHandle, tenders: Vec<TenderInput>) -> Reply<SaleDone> {
    let out = shell.with(|s| s.pay(&tenders));
    // Both happen on their own threads: the sale is already durable.
    shell.kick_printer();
    shell.written(&app);
    out
}

#[tauri::command]
async fn receipt(shell: State<'_, Arc<Shell>>, receipt_no: String) -> Reply<ReceiptView> {
    match shell.with(|s| s.receipt(&receipt_no)) {
        Err(e) if e.code == "unknown_receipt" => {}
        found => return found,
    }
    // Another till's sale, for a return: ask the relay, then the cloud,
    // without holding the till (scans go on meanwhile); then verify it.
    let sources = shell.with(|s| s.receipt_sources())?;
    let (from, served) = sentra_terminal::sync::fetch_receipt(&sources, receipt_no.trim())
        .await
        .map_err(AppError::from)?;
    shell.with(|s| {
        s.adopt_foreign_sale(receipt_no.trim(), from, &served)?;
        s.receipt(&receipt_no)
    })
}

#[tauri::command]
fn last_receipt(shell: State<'_, Arc<Shell>>) -> Reply<Option<String>> {
    shell.with(|s| s.last_receipt_no())
}

#[tauri::command]
fn reprint(shell: State<'_, Arc<Shell>>, receipt_no: String) -> Reply<Option<i64>> {
    let out = shell.with(|s| s.reprint(&receipt_no));
    shell.kick_printer();
    out
}

#[tauri::command]
async fn void_sale(
    shell: State<'_, Arc<Shell>>,
    app: AppHandle,
    receipt_no: String,
    supervisor_pin: Option<String>,
    reason: Option<String>,
) -> Reply<AppStatus> {
    let out = shell.with(|s| s.void(&receipt_no, supervisor_pin.as_deref(), reason));
    shell.written(&app);
    out
}

#[tauri::command]
async fn refund(
    shell: State<'_, Arc<Shell>>,
    app: AppHandle,
    receipt_no: String,
    items: Vec<RefundItem>,
    method: String,
    supervisor_pin: Option<String>,
    reason: Option<String>,
) -> Reply<RefundDone> {
    let out = shell.with(|s| {
        s.refund(
            &receipt_no,
            &items,
            &method,
            supervisor_pin.as_deref(),
            reason,
        )
    });
    shell.kick_printer();
    shell.written(&app);
    out
}

/// A return without the original sale (offline), supervisor and reason.
#[tauri::command]
fn refund_unverified(
    shell: State<'_, Arc<Shell>>,
    app: AppHandle,
    receipt_no: String,
    items: Vec<RefundItem>,
    method: String,
    supervisor_pin: Option<String>,
    reason: String,
) -> Reply<RefundDone> {
    let out = shell.with(|s| {
        s.refund_unverified(
            &receipt_no,
            &items,
            &method,
            supervisor_pin.as_deref(),
            &reason,
        )
    });
    shell.kick_printer();
    shell.written(&app);
    out
}

// ------------------------------------------------------- customer display

/// What the customer display shows now: its window asks once when it
/// loads, then follows the `customer` event.
#[tauri::command]
fn customer_view(shell: State<'_, Arc<Shell>>) -> Reply<CustomerView> {
    shell.with(|s| s.customer_view())
}

/// The till's tender screen, for the customer display (`None`: back on
/// the scan screen).
#[tauri::command]
fn customer_tender(
    shell: State<'_, Arc<Shell>>,
    progress: Option<TenderProgress>,
) -> Reply<CustomerView> {
    shell.with(|s| s.customer_tender(progress))
}

// ------------------------------------------------------------ print, sync

#[tauri::command]
fn print_jobs(shell: State<'_, Arc<Shell>>) -> Reply<Vec<PrintJob>> {
    shell.with(|s| s.print_jobs())
}

#[tauri::command]
fn retry_print(shell: State<'_, Arc<Shell>>) -> Reply<Vec<PrintJob>> {
    shell.kick_printer();
    shell.with(|s| s.print_jobs())
}

#[tauri::command]
fn sync_state(shell: State<'_, Arc<Shell>>) -> Reply<SyncView> {
    shell.with(|s| s.sync_view())
}

#[tauri::command]
fn undelivered(shell: State<'_, Arc<Shell>>) -> Reply<UndeliveredView> {
    shell.with(|s| s.undelivered())
}

#[tauri::command]
fn sync_now(shell: State<'_, Arc<Shell>>) -> Reply<SyncView> {
    shell.kick_sync();
    shell.with(|s| s.sync_view())
}

/// `--data-dir DIR`, else `SENTRA_DATA_DIR`, else the installer's `DATADIR`,
/// else the platform's local app data folder.
fn data_dir_of(app: &tauri::App, install: &InstallSettings) -> anyhow::Result<PathBuf> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--data-dir" {
            if let Some(d) = args.next() {
                return Ok(PathBuf::from(d));
            }
        } else if let Some(d) = a.strip_prefix("--data-dir=") {
            return Ok(PathBuf::from(d));
        }
    }
    if let Some(d) = std::env::var_os("SENTRA_DATA_DIR") {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = install.data_dir() {
        return Ok(d);
    }
    Ok(app.path().app_local_data_dir()?.join("till"))
}

pub fn run() {
    let started_at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = tauri::Builder::default()
        .setup(move |app| {
            let install = InstallSettings::read();
            let data_dir = data_dir_of(app, &install)?;
            std::fs::create_dir_all(&data_dir)?;
            let shell = Arc::new(Shell {
                app: app.handle().clone(),
                data_dir: data_dir.clone(),
                install,
                started_at_ms,
                session: Mutex::new(None),
                sync: Mutex::new(None),
                printer: Mutex::new(None),
                customer_window: Arc::default(),
                customer_sent: Mutex::new(None),
            });
            app.manage(shell.clone());
            if pos::is_set_up(&data_dir) {
                // A till that cannot be opened (wrong key, damaged file)
                // stops here with the reason, rather than offering setup
                // over it.
                let terminal = Terminal::open(&data_dir)?;
                pos::adopt(&terminal)?;
                let mut session = PosSession::new(terminal)?;
                // Installers and tests may name the printer up front.
                if let Ok(addr) = std::env::var("SENTRA_PRINTER") {
                    session.set_printer(Some(addr).filter(|a| !a.is_empty()))?;
                }
                *lock(&shell.session) = Some(session);
                start_background(app.handle(), &shell);
            }
            let watched = shell.clone();
            shell
                .customer_window
                .clone()
                .watch(app.handle().clone(), move || {
                    watched.customer_display_mode()
                });
            Ok(())
        })
        .on_window_event(|window, event| {
            let app = window.app_handle();
            match (window.label(), event) {
                // Closing the till closes the customer display with it (the
                // app ends with its last window).
                ("main", tauri::WindowEvent::Destroyed) => {
                    if let Some(customer) = app.get_webview_window(customer_window::LABEL) {
                        let _ = customer.destroy();
                    }
                }
                // Should the customer display get the keyboard anyway (an X
                // server without a window manager gives it to the window
                // under the pointer; a click on it), it goes straight back
                // to the till, where the scanner types.
                (customer_window::LABEL, tauri::WindowEvent::Focused(true)) => {
                    if let Some(main) = app.get_webview_window("main") {
                        let _ = main.set_focus();
                    }
                }
                _ => {}
            }
        })
        .invoke_handler(tauri::generate_handler![
            boot,
            setup_trial,
            setup_enrolled,
            status,
            save_settings,
            cashiers,
            sign_in,
            lock_till,
            unlock,
            sign_out,
            open_shift,
            cash_move,
            x_report,
            close_shift,
            open_drawer,
            cart,
            scan,
            search,
            set_quantity,
            remove_line,
            set_line_discount,
            set_cart_discount,
            clear_cart,
            park,
            parked,
            resume,
            pay,
            receipt,
            last_receipt,
            reprint,
            void_sale,
            refund,
            refund_unverified,
            print_jobs,
            retry_print,
            sync_state,
            undelivered,
            sync_now,
            customer_view,
            customer_tender,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("sentra-pos: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The quoted names between `open` and the next `close` in `text`.
    fn names(text: &str, open: &str, close: &str) -> BTreeSet<String> {
        let Some(start) = text.find(open) else {
            return BTreeSet::new();
        };
        let body = &text[start + open.len()..];
        let body = &body[..body.find(close).unwrap_or(body.len())];
        body.split(',')
            .map(|n| n.trim().trim_matches('"').to_owned())
            .filter(|n| !n.is_empty())
            .collect()
    }

    /// A command missing from build.rs has no permission, and one missing
    /// from the till's set is refused in the till's window at run time.
    #[test]
    fn every_command_has_a_permission_and_the_till_may_call_it() {
        let handler = names(include_str!("lib.rs"), "generate_handler![", "]");
        let built = names(include_str!("../build.rs"), "COMMANDS: &[&str] = &[", "];");
        let till: BTreeSet<String> = names(
            include_str!("../permissions/till.toml"),
            "permissions = [",
            "]",
        )
        .iter()
        .map(|p| p.trim_start_matches("allow-").replace('-', "_"))
        .collect();
        assert!(handler.len() > 30, "read {handler:?}");
        assert_eq!(handler, built, "build.rs COMMANDS");
        assert_eq!(handler, till, "permissions/till.toml");
    }
}
