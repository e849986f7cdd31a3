//! Reading `docs/sync-protocol.md`: its sections, code blocks and tables.

use anyhow::{Context, Result};

/// The repository: where cargo says this package is when it runs the test,
/// else where it was when this was compiled (clones share one build dir, so
/// a test must read its own clone's files).
pub fn repo() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("..")
}

pub fn protocol() -> String {
    let path = repo().join("docs/sync-protocol.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// From the heading line `heading` to the next heading of its level or
/// above.
pub fn section<'a>(doc: &'a str, heading: &str) -> Result<&'a str> {
    let start = doc
        .find(&format!("\n{heading}\n"))
        .with_context(|| format!("no heading {heading:?} in the document"))?
        + 1;
    let level = heading.chars().take_while(|c| *c == '#').count();
    let rest = &doc[start + heading.len()..];
    let end = rest
        .lines()
        .scan(0usize, |at, line| {
            let here = *at;
            *at += line.len() + 1;
            Some((here, line))
        })
        .find(|(_, line)| {
            let hashes = line.chars().take_while(|c| *c == '#').count();
            hashes > 0 && hashes <= level && line[hashes..].starts_with(' ')
        })
        .map_or(rest.len(), |(at, _)| at);
    Ok(&doc[start..start + heading.len() + end])
}

/// The text of the first code block opened by the line `fence` (e.g.
/// "```json").
pub fn code_block(section: &str, fence: &str) -> Result<String> {
    let mut lines = section.lines().skip_while(|l| l.trim() != fence);
    lines.next().with_context(|| format!("no {fence} block"))?;
    Ok(lines
        .take_while(|l| l.trim() != "```")
        .collect::<Vec<_>>()
        .join("\n"))
}

/// The rows of the table headed by the line `header`, as cells (trimmed).
pub fn table(doc: &str, header: &str) -> Result<Vec<Vec<String>>> {
    let mut lines = doc.lines().skip_while(|l| l.trim() != header);
    lines
        .next()
        .with_context(|| format!("no table headed {header:?}"))?;
    Ok(lines
        .skip(1)
        .map(str::trim)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            // `\|` is a pipe inside a cell.
            let inner = l.trim_matches('|').replace("\\|", "\u{0}");
            inner
                .split('|')
                .map(|c| c.replace('\u{0}', "|").trim().to_owned())
                .collect()
        })
        .collect())
}

/// The backticked names of a cell, in order.
pub fn names(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// `cell` without its parenthesised asides (nested ones too), where the
/// document explains a field rather than names one.
pub fn outside_parentheses(cell: &str) -> String {
    let mut depth = 0usize;
    cell.chars()
        .filter(|c| match c {
            '(' => {
                depth += 1;
                false
            }
            ')' => {
                depth = depth.saturating_sub(1);
                false
            }
            _ => depth == 0,
        })
        .collect()
}
