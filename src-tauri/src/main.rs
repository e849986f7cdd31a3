// No console window behind the till on Windows.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    #[cfg(target_os = "linux")]
    baseline_js_tiers_only();
    sentra_pos::run();
}

/// WebKitGTK's JavaScript engine (JSC) with its interpreter and baseline JIT
/// only: its optimising tiers (DFG, FTL) held ~14 MiB more in the web
/// process over a 1,500-sale session and bought no scan time (p95 12 ms
/// either way; docs/benchmarks.md). JSC reads its options from the
/// environment, and the web process inherits the app's. A value already set
/// (shop IT, a test) is left alone. Windows' WebView2 is another engine.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn baseline_js_tiers_only() {
    for name in ["JSC_useDFGJIT", "JSC_useFTLJIT"] {
        if std::env::var_os(name).is_none() {
            // SAFETY: the first thing main does, before any thread exists
            // (Tauri, GTK and tracing all start later), so nothing reads
            // the environment while it changes.
            unsafe { std::env::set_var(name, "false") };
        }
    }
}
