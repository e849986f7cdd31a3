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

#[test]
fn every_role_is_documented_with_what_it_may_do() {
    let s = section();
    for (name, role) in [
        ("admin", Role::Admin),
        ("finance", Role::Finance),
        ("manager", Role::Manager),
        ("auditor", Role::Auditor),
    ] {
        assert_eq!(Role::parse(name), Some(role));
        assert!(
            s.contains(&format!("`{name}` (")),
            "role {name} is not described"
        );
    }
    assert!(Role::Finance.decides_conflicts() && Role::Admin.decides_conflicts());
    assert!(!Role::Manager.decides_conflicts() && !Role::Auditor.decides_conflicts());
    assert!(Role::Auditor.sees_audit_log() && !Role::Manager.sees_audit_log());
    assert!(!Role::Manager.all_branches());
}
