//! The customer display's window: a second web view (label `customer`, the
//! same UI bundle opened as `index.html?view=customer`) that covers the
//! till's second monitor. What it shows comes from the session
//! (`sentra_terminal::pos::customer`), pushed as the `customer` event.
//!
//! It never takes focus: the scanner is a keyboard wedge, so a scan typed
//! while the other window has focus would be lost. The window is built
//! unfocused and unfocusable, and nothing ever focuses it; when it opens,
//! the till's window, if it had the keyboard, takes it explicitly (on X
//! without a window manager the keyboard follows the pointer, which may
//! now be over the display), and should the display get the keyboard all
//! the same it is handed straight back (`lib.rs`).
//!
//! When it opens (the till's `customer_display` setting): `auto` (the
//! default) on a second monitor whenever there is one, checked every few
//! seconds so a monitor plugged in later gets it; `always` also with one
//! monitor, as a normal window in the corner; `off` never.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sentra_terminal::pos::settings::CustomerDisplayMode;
use tauri::{AppHandle, Manager, PhysicalPosition, PhysicalSize, WebviewUrl, WebviewWindowBuilder};

/// The window's label: events and the capability `customer` name it.
pub const LABEL: &str = "customer";
/// How often the monitors are looked at again.
const WATCH_EVERY: Duration = Duration::from_secs(3);
/// The window's size (logical pixels) when it shares the till's monitor.
const SHARED_SIZE: (f64, f64) = (800.0, 600.0);

/// A monitor, in physical pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Screen {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    pub scale: f64,
}

impl Screen {
    fn of(m: &tauri::Monitor) -> Screen {
        Screen {
            x: m.position().x,
            y: m.position().y,
            width: m.size().width,
            height: m.size().height,
            scale: m.scale_factor(),
        }
    }

    fn same_area(&self, other: &Screen) -> bool {
        (self.x, self.y, self.width, self.height) == (other.x, other.y, other.width, other.height)
    }
}

/// Where the customer display goes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Placement {
    /// Borderless, covering a monitor of its own.
    Cover(Screen),
    /// A normal window in the bottom right corner of the till's monitor.
    Shared(Screen),
}

/// Where the display goes for `mode`, given the monitors and the one the
/// till's window is on (`None` when unknown: the first is taken). Another
/// monitor than the till's is always preferred.
pub fn placement(
    mode: CustomerDisplayMode,
    screens: &[Screen],
    till: Option<Screen>,
) -> Option<Placement> {
    if mode == CustomerDisplayMode::Off {
        return None;
    }
    let till = till.or_else(|| screens.first().copied())?;
    if let Some(other) = screens.iter().find(|s| !s.same_area(&till)) {
        return Some(Placement::Cover(*other));
    }
    (mode == CustomerDisplayMode::Always).then_some(Placement::Shared(till))
}

/// What the window is now, so a check that changes nothing does nothing.
#[derive(Default)]
pub struct CustomerWindow {
    placed: Mutex<Option<Placement>>,
}

impl CustomerWindow {
    /// Open, move or close the window for `mode` and the monitors now.
    /// Not from a synchronous command: building a window there deadlocks
    /// on Windows (WebView2); the callers use a thread of their own.
    pub fn reconcile(&self, app: &AppHandle, mode: CustomerDisplayMode) {
        let mut placed = self.placed.lock().unwrap_or_else(|p| p.into_inner());
        let existing = app.get_webview_window(LABEL);
        // Off, or the till's window gone (the app is closing): no display,
        // and no need to ask for the monitors.
        let main = app.get_webview_window("main");
        let (Some(main), false) = (main, mode == CustomerDisplayMode::Off) else {
            if let Some(w) = existing {
                let _ = w.destroy();
            }
            *placed = None;
            return;
        };
        let screens: Vec<Screen> = match app.available_monitors() {
            Ok(ms) => ms.iter().map(Screen::of).collect(),
            Err(e) => {
                tracing::warn!("cannot list the monitors: {e}");
                return;
            }
        };
        let till = main
            .current_monitor()
            .ok()
            .flatten()
            .map(|m| Screen::of(&m));
        let want = placement(mode, &screens, till);
        match (want, existing) {
            (None, None) => {}
            (None, Some(w)) => {
                let _ = w.destroy();
                *placed = None;
            }
            (Some(p), Some(_)) if *placed == Some(p) => {}
            (Some(Placement::Cover(s)), Some(w))
                if matches!(*placed, Some(Placement::Cover(_))) =>
            {
                // Another monitor: move there (never a focus call).
                let _ = w.set_position(PhysicalPosition::new(s.x, s.y));
                let _ = w.set_size(PhysicalSize::new(s.width, s.height));
                *placed = Some(Placement::Cover(s));
            }
            (Some(_), Some(w)) => {
                // From a corner window to a monitor of its own or back:
                // rebuilt at the next check, with the right decorations.
                let _ = w.destroy();
                *placed = None;
            }
            (Some(p), None) => {
                let till_had_keyboard = main.is_focused().unwrap_or(false);
                match build(app, p) {
                    Ok(()) => *placed = Some(p),
                    Err(e) => tracing::error!("cannot open the customer display: {e}"),
                }
                // X without a window manager gives the keyboard to the
                // window under the pointer, which may now be the display's:
                // the till's window takes it explicitly (a no-op where it
                // still has it).
                if till_had_keyboard {
                    let _ = main.set_focus();
                }
            }
        }
    }

    /// Look at the monitors every few seconds for as long as the app runs.
    pub fn watch(
        self: Arc<Self>,
        app: AppHandle,
        mode: impl Fn() -> CustomerDisplayMode + Send + 'static,
    ) {
        let spawned = std::thread::Builder::new()
            .name("customer-display".into())
            .spawn(move || {
                loop {
                    self.reconcile(&app, mode());
                    std::thread::sleep(WATCH_EVERY);
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the customer display thread: {e}");
        }
    }
}

fn build(app: &AppHandle, placement: Placement) -> tauri::Result<()> {
    let url = WebviewUrl::App("index.html?view=customer".into());
    let builder = WebviewWindowBuilder::new(app, LABEL, url)
        .title("Sentra POS · Pelanggan / Customer")
        .focused(false)
        .focusable(false)
        .skip_taskbar(true);
    let window = match placement {
        Placement::Cover(s) => builder
            .decorations(false)
            .resizable(false)
            .position(f64::from(s.x) / s.scale, f64::from(s.y) / s.scale)
            .inner_size(f64::from(s.width) / s.scale, f64::from(s.height) / s.scale)
            .build()?,
        Placement::Shared(s) => {
            let (w, h) = SHARED_SIZE;
            let right = f64::from(s.x) / s.scale + f64::from(s.width) / s.scale;
            let bottom = f64::from(s.y) / s.scale + f64::from(s.height) / s.scale;
            // Above the till's window it shares the screen with.
            builder
                .always_on_top(true)
                .inner_size(w, h)
                .position((right - w).max(0.0), (bottom - h).max(0.0))
                .build()?
        }
    };
    // Logical positions are converted with one monitor's scale; a
    // monitor of another scale is hit exactly in physical pixels.
    if let Placement::Cover(s) = placement {
        window.set_position(PhysicalPosition::new(s.x, s.y))?;
        window.set_size(PhysicalSize::new(s.width, s.height))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(x: i32, width: u32) -> Screen {
        Screen {
            x,
            y: 0,
            width,
            height: 768,
            scale: 1.0,
        }
    }

    #[test]
    fn a_second_monitor_gets_the_display_unless_it_is_off() {
        let till = screen(0, 1366);
        let customer = screen(1366, 1024);
        let both = [till, customer];
        for mode in [CustomerDisplayMode::Auto, CustomerDisplayMode::Always] {
            assert_eq!(
                placement(mode, &both, Some(till)),
                Some(Placement::Cover(customer))
            );
        }
        assert_eq!(placement(CustomerDisplayMode::Off, &both, Some(till)), None);
        // The till's window on the right-hand monitor: the left one.
        assert_eq!(
            placement(CustomerDisplayMode::Auto, &both, Some(customer)),
            Some(Placement::Cover(till))
        );
        // Unknown till monitor: the first is the till's.
        assert_eq!(
            placement(CustomerDisplayMode::Auto, &both, None),
            Some(Placement::Cover(customer))
        );
    }

    #[test]
    fn with_one_monitor_only_always_opens_it_as_a_window() {
        let only = [screen(0, 1366)];
        assert_eq!(
            placement(CustomerDisplayMode::Auto, &only, Some(only[0])),
            None
        );
        assert_eq!(
            placement(CustomerDisplayMode::Always, &only, Some(only[0])),
            Some(Placement::Shared(only[0]))
        );
        assert_eq!(placement(CustomerDisplayMode::Always, &[], None), None);
    }
}
