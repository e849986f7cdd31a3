//! The customer display's view, through `PosSession` on a real SQLCipher
//! store: idle with the store's name, the lines and total as they are rung,
//! the tender (with the QRIS method for its prompt), the payment and the
//! change, and back to idle (or the next cart) for the next sale.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Till;
use sentra_terminal::Terminal;
use sentra_terminal::pos::customer::{CustomerStage, TenderProgress};
use sentra_terminal::pos::views::{AppError, TenderInput};
use sentra_terminal::pos::{PosSession, cashiers};

/// A till with the catalog and a cashier (PIN 1111), signed in, shift open.
fn selling() -> (Till, PosSession) {
    let till = Till::new();
    till.ok(&["catalog", "import", common::CATALOG]);
    let terminal = Terminal::open(&till.data_dir).unwrap();
    let sari = cashiers::add_local(terminal.connection(), "Sari", "cashier", "1111").unwrap();
    let mut session = PosSession::new(terminal).unwrap();
    session.sign_in(&sari.user_id, "1111").unwrap();
    session.open_shift(100_000).unwrap();
    (till, session)
}

fn tendering(method: &str, tendered: i64) -> Option<TenderProgress> {
    Some(TenderProgress {
        method: method.into(),
        tendered,
    })
}

#[test]
fn the_view_follows_the_cart_the_tender_and_the_payment() {
    let (_till, mut s) = selling();
    let idle = s.customer_view().unwrap();
    assert_eq!(idle.stage, CustomerStage::Idle);
    assert_eq!(idle.store_name, "Sentra");
    assert_eq!(idle.language, "id");
    assert!(idle.lines.is_empty());

    s.scan("8998866200301").unwrap();
    s.scan("2*8993675020145").unwrap();
    let cart = s.customer_view().unwrap();
    assert_eq!(cart.stage, CustomerStage::Cart);
    let names: Vec<_> = cart.lines.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["Indomie Goreng 85g", "Teh Botol Sosro 450ml"]);
    assert_eq!(cart.lines[1].quantity_milli, 2000);
    assert_eq!(cart.lines[1].total, 12_000);
    assert_eq!(cart.total, 15_500);
    assert_eq!(cart.method, None);

    // A quantity change shows at once.
    s.set_quantity(0, "3").unwrap();
    assert_eq!(s.customer_view().unwrap().total, 3 * 3_500 + 12_000);

    // The cashier opens the tender on QRIS: the prompt's stage and method.
    let qris = s.customer_tender(tendering("qris", 0)).unwrap();
    assert_eq!(qris.stage, CustomerStage::Tender);
    assert_eq!(qris.method.as_deref(), Some("qris"));
    assert_eq!(qris.remaining, 22_500);
    // A split tender: 10.000 by card entered, then cash for the rest.
    let split = s.customer_tender(tendering("cash", 10_000)).unwrap();
    assert_eq!((split.paid, split.remaining), (10_000, 12_500));
    assert_eq!(split.method.as_deref(), Some("cash"));

    let done = s
        .pay(&[
            TenderInput {
                method: "card".into(),
                amount: 10_000,
                reference: None,
            },
            TenderInput {
                method: "cash".into(),
                amount: 20_000,
                reference: None,
            },
        ])
        .unwrap();
    let paid = s.customer_view().unwrap();
    assert_eq!(paid.stage, CustomerStage::Paid);
    assert_eq!(paid.total, 22_500);
    assert_eq!(paid.paid, 30_000);
    assert_eq!(paid.change, 7_500);
    assert_eq!(paid.change, done.change);
    assert_eq!(paid.receipt_no.as_deref(), Some(done.receipt_no.as_str()));
    assert_eq!(paid.lines.len(), 2, "the lines just paid stay on show");
    assert_eq!(paid.method, None);
    // The tender screen's last report crosses the payment: the change
    // stays on show.
    let late = s.customer_tender(tendering("cash", 30_000)).unwrap();
    assert_eq!((late.stage, late.change), (CustomerStage::Paid, 7_500));

    // The cashier goes on to the next sale: idle again.
    let next = s.customer_tender(None).unwrap();
    assert_eq!(next.stage, CustomerStage::Idle);
    assert!(next.lines.is_empty());
    assert_eq!(next.change, 0);
}

#[test]
fn scanning_from_the_change_screen_starts_the_next_sale() {
    let (_till, mut s) = selling();
    s.scan("8998866200301").unwrap();
    s.pay(&[TenderInput {
        method: "cash".into(),
        amount: 5_000,
        reference: None,
    }])
    .unwrap();
    assert_eq!(s.customer_view().unwrap().stage, CustomerStage::Paid);
    s.scan("8886008101053").unwrap();
    let next = s.customer_view().unwrap();
    assert_eq!(next.stage, CustomerStage::Cart);
    assert_eq!(next.total, 4_000);
    assert_eq!(next.change, 0);
    // Cleared again, the last sale's change does not come back.
    s.clear_cart().unwrap();
    assert_eq!(s.customer_view().unwrap().stage, CustomerStage::Idle);
}

#[test]
fn a_cancelled_tender_goes_back_to_the_cart_and_bad_progress_is_refused() {
    let (_till, mut s) = selling();
    // No cart, no tender to show.
    assert_eq!(
        s.customer_tender(tendering("cash", 0)).unwrap().stage,
        CustomerStage::Idle
    );
    s.scan("8998866200301").unwrap();
    s.customer_tender(tendering("card", 0)).unwrap();
    assert_eq!(
        s.customer_tender(None).unwrap().stage,
        CustomerStage::Cart,
        "Esc on the tender"
    );
    let bad = s.customer_tender(tendering("bitcoin", 0)).unwrap_err();
    assert_eq!(AppError::from(bad).code, "invalid");
    let negative = s.customer_tender(tendering("cash", -1)).unwrap_err();
    assert_eq!(AppError::from(negative).code, "invalid");
    // A parked sale leaves the display idle; resumed, it is back.
    s.park("").unwrap();
    assert_eq!(s.customer_view().unwrap().stage, CustomerStage::Idle);
    let parked = s.parked().unwrap();
    s.resume(&parked[0].park_id).unwrap();
    assert_eq!(s.customer_view().unwrap().total, 3_500);
}

#[test]
fn the_view_speaks_the_tills_language_and_names_its_store() {
    let (_till, mut s) = selling();
    let mut settings = s.settings().clone();
    settings.language = "en".into();
    settings.store_name = "Toko Makmur".into();
    s.save_settings(settings).unwrap();
    let v = s.customer_view().unwrap();
    assert_eq!(v.language, "en");
    assert_eq!(v.store_name, "Toko Makmur");
}
