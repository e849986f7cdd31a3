//! The rules `docs/operations.md` (section 6) states about the office pages
//! are the code's: the flags' defaults, the sign-in throttle, the password
//! length, the roles.

use sentra_office::auth::{MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_ADDRESS, Role};
use sentra_office::{
    DEFAULT_IDLE_MINUTES, DEFAULT_SESSION_HOURS, DEFAULT_VARIANCE_THRESHOLD,
    THROTTLE_WINDOW_MINUTES, users::MIN_PASSWORD_CHARS,
};

fn section() -> String {
    let doc = include_str!("../../../docs/operations.md");
    let start = doc
        .find("## 6. Head office")
        .expect("docs/operations.md has section 6, Head office");
    doc[start..].to_owned()
}

/// The default column of the flags table, by flag.
fn default_of(flag: &str) -> String {
    let s = section();
    let row = s
        .lines()
        .find(|l| l.starts_with(&format!("| `{flag}`")))
        .unwrap_or_else(|| panic!("no row for {flag}"));
    row.split('|')
        .nth(2)
        .expect("a default column")
        .trim()
        .to_owned()
}

#[test]
fn flag_defaults_are_the_documented_ones() {
    assert_eq!(
        default_of("--office-idle-minutes"),
        DEFAULT_IDLE_MINUTES.to_string()
    );
    assert_eq!(
        default_of("--office-session-hours"),
        DEFAULT_SESSION_HOURS.to_string()
    );
    assert_eq!(
        default_of("--office-variance-threshold"),
        DEFAULT_VARIANCE_THRESHOLD.to_string()
    );
    assert_eq!(default_of("--office-secure-cookies"), "off");
    let c = sentra_office::OfficeConfig::default();
    assert!(!c.secure_cookies && !c.trust_forwarded_for);
    assert_eq!(c.idle_timeout.as_secs(), DEFAULT_IDLE_MINUTES * 60);
}

fn words(n: i64) -> &'static str {
    match n {
        10 => "Ten",
        50 => "fifty",
        _ => "?",
    }
}

#[test]
fn the_throttle_and_password_rules_are_the_documented_ones() {
    let s = section().replace('\n', " ");
    let account = format!(
        "{} failed sign-ins of one account within {} minutes",
        words(MAX_FAILURES_PER_ACCOUNT),
        THROTTLE_WINDOW_MINUTES
    );
    assert!(s.contains(&account), "operations.md should say: {account}");
    let address = format!("{} from one address", words(MAX_FAILURES_PER_ADDRESS));
    assert!(s.contains(&address), "operations.md should say: {address}");
    let pw = format!("at least {MIN_PASSWORD_CHARS} characters");
    assert!(s.contains(&pw), "operations.md should say: {pw}");
}

/// The cells of the role table's row that starts with `what`, by role in
/// the header's order (admin, finance, manager, auditor): may the role do it?
fn may(what: &str) -> Vec<bool> {
    let s = section();
    let row = s
        .lines()
        .find(|l| l.starts_with(&format!("| {what} |")))
        .unwrap_or_else(|| panic!("no row {what:?} in the role table"));
    row.split('|')
        .skip(2)
        .take(4)
        .map(|c| c.trim() != "no")
        .collect()
}

#[test]
fn every_role_may_do_what_the_role_table_says() {
    let s = section();
    assert!(
        s.contains("| | admin | finance | manager | auditor |"),
        "the role table's header names the four roles in order"
    );
    let roles = [Role::Admin, Role::Finance, Role::Manager, Role::Auditor];
    for (name, role) in ["admin", "finance", "manager", "auditor"].iter().zip(roles) {
        assert_eq!(Role::parse(name), Some(role));
    }
    let check = |what: &str, f: fn(Role) -> bool| {
        let want = may(what);
        let got: Vec<bool> = roles.iter().map(|r| f(*r)).collect();
        assert_eq!(got, want, "{what}");
    };
    check("decide conflicts", Role::decides_conflicts);
    check(
        "products, chain-wide prices, catalog import",
        Role::manages_catalog,
    );
    check(
        "branch prices, branch settings, devices (enrollment codes, revoke, re-admit), cashiers and PINs",
        Role::manages_branches,
    );
    check("office users", Role::manages_office_users);
    check("audit log", Role::sees_audit_log);
    let sees_all: Vec<bool> = roles.iter().map(|r| r.all_branches()).collect();
    let row = s
        .lines()
        .find(|l| l.starts_with("| see branches |"))
        .expect("a see branches row");
    let want: Vec<bool> = row
        .split('|')
        .skip(2)
        .take(4)
        .map(|c| c.trim() == "all")
        .collect();
    assert_eq!(sees_all, want, "see branches");
}
