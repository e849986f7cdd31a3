//! `docs/sync-protocol.md` is a contract (issue 18): every row of its
//! checked tables names a test or a vector that exercises it, and every code
//! the server can emit is a row — so a rule added without a row, or a row
//! without a test, fails the test command.
//!
//! A test says which rows it exercises with comments just above it:
//!
//! ```text
//! // protocol: error busy
//! #[tokio::test]
//! async fn a_push_past_the_queue_is_told_busy() { … }
//! ```
//!
//! and a vector of `docs/vectors/` by its `covers` list. Checked: the error
//! codes ("Transport, versions, errors"), against `ApiError::code` in
//! `sync-server/src/error.rs`; the refusal reasons ("Answer"), against
//! `RefusalReason::code`; the quarantine reasons ("What the server checks,
//! in order"), against the ledger's validation codes and the ingest's
//! `"<code>: …"` reasons; the limits; the kinds and their fields; the
//! conflict kinds ("Conflicts"), against every `kind: "…"` in the server's
//! sources, and their `details`, against the details the vectors recorded
//! from the real server; the pull entities.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A table of the document: the line that heads it, and the column that
/// holds each row's key (in backticks).
struct Table {
    name: &'static str,
    header: &'static str,
    key_column: usize,
}

const TABLES: &[Table] = &[
    Table {
        name: "error",
        header: "| status | `error` | when | retryable |",
        key_column: 1,
    },
    Table {
        name: "quarantine",
        header: "| reason | meaning |",
        key_column: 0,
    },
    Table {
        name: "conflict",
        header: "| kind | raised when | `details` |",
        key_column: 0,
    },
    Table {
        name: "refusal",
        header: "| reason | meaning | what the client does |",
        key_column: 0,
    },
    Table {
        name: "limit",
        header: "| name | limit | value |",
        key_column: 0,
    },
    Table {
        name: "kind",
        header: "| kind | fields (`?`: optional) |",
        key_column: 0,
    },
    Table {
        name: "entity",
        header: "| `entity` | `key` | `data` fields |",
        key_column: 0,
    },
];

/// The keys of the table headed by `header`: each backticked name in
/// `key_column` of each row (a cell may name several), in order. None when
/// no such table.
fn table_keys(doc: &str, header: &str, key_column: usize) -> Option<Vec<String>> {
    let mut lines = doc.lines().skip_while(|l| l.trim() != header);
    lines.next()?;
    let mut keys = Vec::new();
    for line in lines.skip(1) {
        let line = line.trim();
        if !line.starts_with('|') {
            break;
        }
        let cell = line.split('|').nth(key_column + 1).unwrap_or("").trim();
        let named: Vec<String> = cell
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        if named.is_empty() {
            keys.push(cell.to_owned());
        } else {
            keys.extend(named);
        }
    }
    Some(keys)
}

/// `(table, key)` → the tests that say they exercise it (`file::fn`).
fn markers(sources: &[(String, String)]) -> BTreeMap<(String, String), Vec<String>> {
    let mut out: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (file, text) in sources {
        let mut pending: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            let t = line.trim();
            if let Some(rest) = t.strip_prefix("// protocol:") {
                let mut words = rest.split_whitespace();
                if let (Some(table), Some(key)) = (words.next(), words.next()) {
                    pending.push((table.to_owned(), key.to_owned()));
                }
            } else if !t.starts_with("//")
                && let Some(name) = t
                    .split("fn ")
                    .nth(1)
                    .filter(|_| t.starts_with("fn ") || t.contains(" fn "))
                    .and_then(|r| r.split('(').next())
                && !pending.is_empty()
            {
                let at = if name == "vector" {
                    file.clone()
                } else {
                    format!("{file}::{name}")
                };
                for k in pending.drain(..) {
                    out.entry(k).or_default().push(at.clone());
                }
            }
        }
    }
    out
}

/// The `covers` of every vector file, as markers: `(table, key)` → the
/// vector's path.
fn vector_markers(vectors: &[(String, String)]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (file, text) in vectors {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            continue;
        };
        let lines: String = v["covers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str())
            .map(|c| format!("// protocol: {c}\n"))
            .collect();
        if !lines.is_empty() {
            out.push((file.clone(), format!("{lines}fn vector()\n")));
        }
    }
    out
}

/// The string literals of `fn code` in a source file (the server's error
/// type: every code a refused request can carry).
fn server_error_codes(error_rs: &str) -> BTreeSet<String> {
    let body = error_rs
        .split("fn code(")
        .nth(1)
        .and_then(|b| b.split("\n    }\n").next())
        .unwrap_or("");
    body.split("=> \"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// The quarantine reasons: the codes of the ledger's `Invalid::code` (an
/// entry that fails validation) and the `"<code>: …"` reasons the ingest
/// writes when an entry cannot be applied.
fn server_quarantine_reasons(validate_rs: &str, ingest: &[(String, String)]) -> BTreeSet<String> {
    let mut out = server_error_codes(validate_rs);
    for (_, text) in ingest {
        for rest in text.split("format!(").skip(1) {
            let rest = rest.trim_start();
            if let Some(code) = rest
                .strip_prefix('"')
                .and_then(|r| r.split(": ").next())
                .filter(|c| !c.is_empty() && c.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            {
                out.insert(code.to_owned());
            }
        }
    }
    out
}

/// The conflict kinds the server's ingest can raise: every `kind: "…"` of
/// its sources.
fn server_conflict_kinds(sources: &[(String, String)]) -> BTreeSet<String> {
    sources
        .iter()
        .flat_map(|(_, text)| text.split("kind: \"").skip(1))
        .filter_map(|s| s.split('"').next())
        .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(str::to_owned)
        .collect()
}

/// Checks the document against the tests' markers and the server's codes:
/// the report (one line per row) or the problems.
fn check(
    doc: &str,
    tables: &[Table],
    sources: &[(String, String)],
    emitted: &BTreeMap<&str, BTreeSet<String>>,
) -> Result<Vec<String>, Vec<String>> {
    let marks = markers(sources);
    let (mut report, mut problems) = (Vec::new(), Vec::new());
    for t in tables {
        let Some(keys) = table_keys(doc, t.header, t.key_column) else {
            problems.push(format!("no table headed {:?} in the document", t.header));
            continue;
        };
        for key in &keys {
            match marks.get(&(t.name.to_owned(), key.clone())) {
                Some(tests) => report.push(format!("{} {key}: {}", t.name, tests.join(", "))),
                None => problems.push(format!(
                    "{} {key}: a row of the document that no test exercises (mark one `// protocol: {} {key}`)",
                    t.name, t.name
                )),
            }
        }
        for code in emitted.get(t.name).into_iter().flatten() {
            if !keys.contains(code) {
                problems.push(format!(
                    "{} {code}: the server can answer it, but no row of the document names it",
                    t.name
                ));
            }
        }
        for ((table, key), tests) in &marks {
            if table == t.name && !keys.contains(key) {
                problems.push(format!(
                    "{table} {key}: marked by {} but not a row of the document",
                    tests.join(", ")
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(report)
    } else {
        Err(problems)
    }
}

fn repo() -> PathBuf {
    crate::doc::repo()
}

/// Every file under `dir` whose name ends in `.{ext}`, as (path from the
/// repository, text), in path order.
fn files(dir: &Path, ext: &str, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.extension().is_some_and(|e| e == ext)
            && let Ok(text) = std::fs::read_to_string(&p)
        {
            let name = p.strip_prefix(repo()).unwrap_or(&p).display().to_string();
            out.push((name, text));
        }
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_row_of_the_protocol_tables_has_a_test_and_every_server_code_a_row() {
    let doc = read("docs/sync-protocol.md");
    let mut sources = Vec::new();
    files(&repo().join("sync-server/tests"), "rs", &mut sources);
    files(&repo().join("tests/tests"), "rs", &mut sources);
    files(&repo().join("conformance/tests"), "rs", &mut sources);
    let mut vectors = Vec::new();
    files(&repo().join("docs/vectors"), "json", &mut vectors);
    sources.extend(vector_markers(&vectors));
    let mut server_sources = Vec::new();
    files(&repo().join("sync-server/src"), "rs", &mut server_sources);
    let emitted = BTreeMap::from([
        (
            "error",
            server_error_codes(&read("sync-server/src/error.rs")),
        ),
        ("conflict", server_conflict_kinds(&server_sources)),
        (
            "refusal",
            server_error_codes(&read("crates/protocol/src/wire.rs")),
        ),
        (
            "quarantine",
            server_quarantine_reasons(&read("crates/ledger/src/validate.rs"), &server_sources),
        ),
    ]);
    assert!(
        emitted["error"].len() >= 10,
        "the server's codes were not found in error.rs: {:?}",
        emitted["error"]
    );
    match check(&doc, TABLES, &sources, &emitted) {
        Ok(report) => {
            for line in &report {
                println!("{line}");
            }
        }
        Err(problems) => panic!(
            "the protocol document and the tests disagree:\n{}",
            problems.join("\n")
        ),
    }
}

/// Tables whose every row a third party gets as a vector: a request and the
/// response it gets (errors, refusals, quarantine reasons), a sequence and
/// the details it raises (conflicts).
const VECTOR_TABLES: &[&str] = &["error", "refusal", "quarantine", "conflict"];

#[test]
fn every_error_refusal_quarantine_and_conflict_row_has_a_vector() {
    let doc = read("docs/sync-protocol.md");
    let mut vectors = Vec::new();
    files(&repo().join("docs/vectors"), "json", &mut vectors);
    let marks = markers(&vector_markers(&vectors));
    let mut missing = Vec::new();
    for t in TABLES.iter().filter(|t| VECTOR_TABLES.contains(&t.name)) {
        for key in table_keys(&doc, t.header, t.key_column).unwrap_or_default() {
            if !marks.contains_key(&(t.name.to_owned(), key.clone())) {
                missing.push(format!("{} {key}", t.name));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "rows no vector of docs/vectors/ covers: {missing:?}"
    );
}

#[test]
fn the_check_fails_on_a_row_without_a_test_and_on_a_code_without_a_row() {
    let doc = "intro\n\n| status | `error` | when | retryable |\n|---|---|---|---|\n\
               | 400 | `malformed_request` | bad body | no |\n\
               | 429 | `busy` | too much | yes |\n\nafter\n";
    let tests = vec![(
        "t.rs".to_owned(),
        "// protocol: error malformed_request\n// protocol: error busy\n#[test]\nfn both() {}\n"
            .to_owned(),
    )];
    let codes = |c: &[&str]| BTreeMap::from([("error", c.iter().map(|s| s.to_string()).collect())]);
    let covered = check(
        doc,
        &TABLES[..1],
        &tests,
        &codes(&["malformed_request", "busy"]),
    );
    assert_eq!(
        covered,
        Ok(vec![
            "error malformed_request: t.rs::both".to_owned(),
            "error busy: t.rs::both".to_owned()
        ])
    );

    // A row that no test marks.
    let one_test = vec![(
        "t.rs".to_owned(),
        "// protocol: error busy\nasync fn busy() {}\n".to_owned(),
    )];
    let problems = check(
        doc,
        &TABLES[..1],
        &one_test,
        &codes(&["malformed_request", "busy"]),
    )
    .expect_err("an uncovered row fails");
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("error malformed_request: a row")),
        "{problems:?}"
    );

    // A code the server emits that no row names.
    let problems = check(
        doc,
        &TABLES[..1],
        &tests,
        &codes(&["malformed_request", "busy", "teapot"]),
    )
    .expect_err("an unnamed code fails");
    assert_eq!(
        problems,
        vec!["error teapot: the server can answer it, but no row of the document names it"]
    );

    // A marker for a row that is not there.
    let stray = vec![(
        "t.rs".to_owned(),
        "// protocol: error malformed_request\n// protocol: error busy\n// protocol: error gone\nfn all() {}\n"
            .to_owned(),
    )];
    let problems = check(
        doc,
        &TABLES[..1],
        &stray,
        &codes(&["malformed_request", "busy"]),
    )
    .expect_err("a stray marker fails");
    assert!(
        problems[0].starts_with("error gone: marked by t.rs::all"),
        "{problems:?}"
    );
}

#[test]
fn the_server_s_codes_are_read_from_its_error_type() {
    let codes = server_error_codes(&read("sync-server/src/error.rs"));
    for c in ["busy", "malformed_request", "internal", "unavailable"] {
        assert!(codes.contains(c), "{c} not found in {codes:?}");
    }
    let mut sources = Vec::new();
    files(&repo().join("sync-server/src"), "rs", &mut sources);
    let kinds = server_conflict_kinds(&sources);
    for k in ["oversold", "fork", "clock_skew"] {
        assert!(kinds.contains(k), "{k} not found in {kinds:?}");
    }
}

/// Every conflict kind has a vector that raised it against the real server,
/// and the `details` it recorded have exactly the top-level fields the
/// document's `details` column names (asides in parentheses aside).
#[test]
fn every_conflict_kind_s_details_are_the_documented_ones() {
    let doc = read("docs/sync-protocol.md");
    let rows = crate::doc::table(&doc, TABLES[2].header).expect("the conflict table");
    let mut vectors = Vec::new();
    files(&repo().join("docs/vectors"), "json", &mut vectors);
    let mut recorded: BTreeMap<String, (BTreeSet<String>, String)> = BTreeMap::new();
    for (file, text) in &vectors {
        let v: serde_json::Value =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{file}: {e}"));
        for step in v["steps"].as_array().into_iter().flatten() {
            for row in step["rows"].as_array().into_iter().flatten() {
                let kind = row["kind"].as_str().unwrap_or_default().to_owned();
                let keys = row["details"]
                    .as_object()
                    .map(|d| d.keys().cloned().collect())
                    .unwrap_or_default();
                recorded.entry(kind).or_insert((keys, file.clone()));
            }
        }
    }
    let mut problems = Vec::new();
    for row in rows {
        let kind = crate::doc::names(&row[0])
            .into_iter()
            .next()
            .unwrap_or_default();
        let documented: BTreeSet<String> =
            crate::doc::names(&crate::doc::outside_parentheses(&row[2]))
                .into_iter()
                .collect();
        match recorded.get(&kind) {
            None => problems.push(format!("{kind}: no vector records its details")),
            Some((keys, file)) if *keys != documented => problems.push(format!(
                "{kind}: the server's details ({file}) are {keys:?}, the document names {documented:?}"
            )),
            Some((_, file)) => println!("conflict {kind} details: {file}"),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
