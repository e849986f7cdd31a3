fn main() {
    // The UI is embedded at compile time; say how to build it rather than
    // failing deep inside the context macro.
    let dist = std::path::Path::new("../ui/dist/index.html");
    if !dist.exists() {
        println!(
            "cargo::warning=ui/dist is missing: run `npm ci && npm run build` in ui/ (scripts/build-ui.sh) before building the app"
        );
    }
    println!("cargo::rerun-if-changed=../ui/dist");
    // Each command gets an `allow-…` permission, so a window may call only
    // what its capability grants (capabilities/: the till's window all of
    // them, the customer display one).
    let manifest = tauri_build::AppManifest::new().commands(COMMANDS);
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)) {
        panic!("tauri build step failed: {e:#}");
    }
}

/// Every command the shell registers (`generate_handler!` in src/lib.rs;
/// a test there checks the two lists and permissions/till.toml agree).
const COMMANDS: &[&str] = &[
    "boot",
    "setup_trial",
    "setup_enrolled",
    "status",
    "save_settings",
    "cashiers",
    "sign_in",
    "lock_till",
    "unlock",
    "sign_out",
    "open_shift",
    "cash_move",
    "x_report",
    "close_shift",
    "open_drawer",
    "cart",
    "scan",
    "search",
    "set_quantity",
    "remove_line",
    "set_line_discount",
    "set_cart_discount",
    "clear_cart",
    "park",
    "parked",
    "resume",
    "pay",
    "receipt",
    "last_receipt",
    "reprint",
    "void_sale",
    "refund",
    "refund_unverified",
    "print_jobs",
    "retry_print",
    "sync_state",
    "undelivered",
    "sync_now",
    "customer_view",
    "customer_tender",
];
