//! Target `pull_query`: what a terminal may put in `GET /v1/pull` — the
//! cursor ([`Cursor::parse`]), the page size ([`parse_limit`]), and the
//! whole query string as axum's `Query<PullQuery>` reads it.

use axum::extract::Query;
use axum::http::Uri;
use sentra_protocol::wire::MAX_PULL_LIMIT;
use sentra_sync::ApiError;
use sentra_sync::pull::{Cursor, PullQuery, parse_limit};

pub fn pull_query(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    cursor(text);
    limit(Some(text));
    // The query string, through the extractor the handler uses.
    let Ok(uri) = format!("/v1/pull?{text}").parse::<Uri>() else {
        return;
    };
    match Query::<PullQuery>::try_from_uri(&uri) {
        Ok(Query(q)) => {
            cursor(q.cursor.as_deref().unwrap_or(""));
            limit(q.limit.as_deref());
        }
        Err(rejection) => assert!(!rejection.body_text().is_empty()),
    }
}

/// A cursor parses only in the exact form the server writes, and then
/// writes back as itself.
fn cursor(text: &str) {
    match Cursor::parse(text) {
        Ok(c) if text.is_empty() => assert_eq!(c, Cursor::START),
        Ok(c) => {
            assert_eq!(c.to_string(), text, "a cursor the server would not write");
            assert_eq!(Cursor::parse(&c.to_string()).ok(), Some(c));
        }
        Err(e) => malformed(&e),
    }
}

/// A limit is a canonical decimal from 1 to `MAX_PULL_LIMIT` (absent or
/// empty: the default).
fn limit(text: Option<&str>) {
    match (parse_limit(text), text) {
        (Ok(n), Some(t)) if !t.is_empty() => {
            assert!((1..=MAX_PULL_LIMIT).contains(&n));
            assert_eq!(n.to_string(), t, "a limit not written canonically");
        }
        (Ok(n), _) => assert!((1..=MAX_PULL_LIMIT).contains(&n)),
        (Err(e), _) => malformed(&e),
    }
}

/// A refusal is the documented 400 `malformed_request`, not retryable.
fn malformed(e: &ApiError) {
    assert_eq!(e.status().as_u16(), 400);
    assert_eq!(e.code(), "malformed_request");
    assert!(!e.retryable());
}
