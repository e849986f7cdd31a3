//! `GET /office/reports/csv?…` and `/office/reports/xlsx?…`: a report's
//! rows, all of them, streamed. One task holds the read-only scoped
//! transaction and fetches rows one by one into a small bounded channel; the
//! response body (CSV) or an XLSX writer in constant-memory mode (on a
//! blocking thread, writing a temporary file that is then streamed) drains
//! it. Nothing holds the whole report in memory, so a year of a 50-branch
//! chain costs the same memory as a day. Every export is an audit row.

use std::io::{self, Read as _};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt as _;
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use tokio::sync::mpsc;

use super::kinds::{self, Cell, Column, Ty};
use super::{Params, quantity};
use crate::Office;
use crate::audit::{self, Record};
use crate::auth::Session;
use crate::error::{OfficeError, Result};

/// Rows in flight between the query and the writer.
const ROWS_IN_FLIGHT: usize = 256;
/// CSV bytes gathered before a chunk goes out.
const CHUNK: usize = 64 * 1024;
/// The longest an export's query (and so its download) may run.
const EXPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);
/// Rows of one worksheet (Excel's limit, less the header).
const SHEET_ROWS: u32 = 1_048_575;

type Rows = mpsc::Receiver<Result<Vec<Cell>>>;

pub async fn csv(State(office): State<Office>, s: Session, uri: Uri) -> Result<Response> {
    let p = Params::parse(&s, &uri)?;
    let (first, rows) = start(&office, &s, &p, "csv").await?;
    let cols = p.kind.columns();
    let header = encode_csv(&[cols.iter().map(|c| c.key.to_owned()).collect()])?;
    let state = (rows, first, Some(header));
    let stream = futures_util::stream::try_unfold(
        state,
        move |(mut rows, mut pending, header)| async move {
            if let Some(h) = header {
                return Ok::<_, io::Error>(Some((Bytes::from(h), (rows, pending, None))));
            }
            let mut batch: Vec<Vec<String>> = Vec::new();
            let mut size = 0;
            loop {
                let next = match pending.take() {
                    Some(r) => Some(r),
                    None => rows.recv().await.transpose().map_err(io::Error::other)?,
                };
                let Some(r) = next else { break };
                let rec: Vec<String> = r.iter().map(csv_value).collect();
                size += rec.iter().map(|v| v.len() + 1).sum::<usize>();
                batch.push(rec);
                if size >= CHUNK {
                    break;
                }
            }
            if batch.is_empty() {
                return Ok(None);
            }
            let bytes = encode_csv(&batch).map_err(io::Error::other)?;
            Ok(Some((Bytes::from(bytes), (rows, None, None))))
        },
    );
    Ok(attachment(
        &p,
        "csv",
        "text/csv; charset=utf-8",
        Body::from_stream(stream),
    ))
}

pub async fn xlsx(State(office): State<Office>, s: Session, uri: Uri) -> Result<Response> {
    let p = Params::parse(&s, &uri)?;
    let (first, rows) = start(&office, &s, &p, "xlsx").await?;
    let cols = p.kind.columns();
    let (out, body) = mpsc::channel::<io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = write_xlsx(cols, first, rows, &out) {
            tracing::error!(error = %e, "office: xlsx export failed");
            let _ = out.blocking_send(Err(io::Error::other(e.to_string())));
        }
    });
    let stream = futures_util::stream::unfold(body, |mut body| async move {
        body.recv().await.map(|chunk| (chunk, body))
    });
    Ok(attachment(
        &p,
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Body::from_stream(stream),
    ))
}

/// Writes the audit row, starts the rows, and waits for the first so that a
/// query that fails is an error page, not a cut-off file.
async fn start(
    office: &Office,
    s: &Session,
    p: &Params,
    format: &str,
) -> Result<(Option<Vec<Cell>>, Rows)> {
    let record = Record::by(s, "export").with_new(serde_json::json!({
        "report": p.kind.slug(),
        "format": format,
        "from": p.from,
        "to": p.to,
        "branches": p.branches.iter().map(|(c, _)| c).collect::<Vec<_>>(),
    }));
    let record = Record {
        target: Some(p.kind.slug().to_owned()),
        branch_id: match p.branches.as_slice() {
            [(_, id)] => Some(*id),
            _ => None,
        },
        ..record
    };
    audit::append(&office.pool, &record).await?;
    let (send, mut rows) = mpsc::channel(ROWS_IN_FLIGHT);
    let (pool, ids, role, timeout) = (
        office.pool.clone(),
        s.branches.iter().map(|b| b.id).collect::<Vec<_>>(),
        s.role,
        office.config.statement_timeout,
    );
    let p = p.clone();
    tokio::spawn(async move {
        // The transaction lives in this task for as long as rows flow.
        let run = async {
            let mut tx = crate::scope::for_role(&pool, &ids, Some(role), true, timeout).await?;
            // The statement lasts as long as the download: a page's timeout
            // would cut off a big export on a slow line.
            sqlx::query("SELECT set_config('statement_timeout', $1, true)")
                .bind(EXPORT_TIMEOUT.as_millis().to_string())
                .execute(&mut *tx)
                .await?;
            {
                let mut stream = kinds::query(p.kind, p.ids(), p.from, p.to, None).fetch(&mut *tx);
                while let Some(row) = stream.try_next().await? {
                    if send.send(p.kind.row(&row)).await.is_err() {
                        // The client went away.
                        return Ok(());
                    }
                }
            }
            tx.rollback().await?;
            Ok::<(), OfficeError>(())
        };
        if let Err(e) = run.await {
            tracing::error!(error = %e, "office: export query failed");
            let _ = send.send(Err(e)).await;
        }
    });
    let first = rows.recv().await.transpose()?;
    Ok((first, rows))
}

fn attachment(p: &Params, ext: &str, ty: &'static str, body: Body) -> Response {
    let disposition = format!("attachment; filename=\"{}.{ext}\"", p.file_stem());
    let mut resp = (body).into_response();
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(ty));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    resp
}

fn encode_csv(records: &[Vec<String>]) -> Result<Vec<u8>> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    for r in records {
        w.write_record(r)
            .map_err(|e| OfficeError::Internal(format!("csv: {e}")))?;
    }
    w.into_inner()
        .map_err(|e| OfficeError::Internal(format!("csv: {e}")))
}

/// A cell as CSV text: integers as they are (rupiah), quantities with a
/// dot, ISO dates. Text a spreadsheet would take for a formula gets a
/// leading `'` (names and reasons are typed at the tills).
fn csv_value(c: &Cell) -> String {
    match c {
        Cell::Text(None) | Cell::DateTime(None) | Cell::Empty => String::new(),
        Cell::Text(Some(t)) => {
            if t.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{t}")
            } else {
                t.clone()
            }
        }
        Cell::Int(v) | Cell::Money(v) => v.to_string(),
        Cell::Qty(q) => quantity(*q),
        Cell::Date(d) => d.to_string(),
        Cell::Month(d) => d.format("%Y-%m").to_string(),
        Cell::DateTime(Some(t)) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
    }
}

struct Formats {
    header: Format,
    money: Format,
    qty: Format,
    date: Format,
    month: Format,
    datetime: Format,
}

/// On a blocking thread: rows into a constant-memory worksheet (rows go
/// to a temporary file as they are written), the workbook into a temporary
/// file, the file out in chunks.
fn write_xlsx(
    cols: &'static [Column],
    first: Option<Vec<Cell>>,
    mut rows: Rows,
    out: &mpsc::Sender<io::Result<Bytes>>,
) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let f = Formats {
        header: Format::new().set_bold(),
        money: Format::new().set_num_format("#,##0"),
        qty: Format::new().set_num_format("#,##0.###"),
        date: Format::new().set_num_format("yyyy-mm-dd"),
        month: Format::new().set_num_format("yyyy-mm"),
        datetime: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
    };
    let mut wb = Workbook::new();
    let mut sheet = 0;
    header(wb.add_worksheet_with_constant_memory(), cols, &f)?;
    let mut row: u32 = 0;
    let mut next = first;
    loop {
        let cells = match next.take() {
            Some(c) => c,
            None => match rows.blocking_recv() {
                Some(r) => r?,
                None => break,
            },
        };
        if row == SHEET_ROWS {
            header(wb.add_worksheet_with_constant_memory(), cols, &f)?;
            sheet += 1;
            row = 0;
        }
        row += 1;
        let ws = wb.worksheet_from_index(sheet)?;
        for (i, c) in cells.iter().enumerate() {
            write_cell(ws, row, i as u16, c, &f)?;
        }
    }
    let file = tempfile::NamedTempFile::new()?;
    wb.save(file.path())?;
    let mut reader = file.reopen()?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if out
            .blocking_send(Ok(Bytes::copy_from_slice(&buf[..n])))
            .is_err()
        {
            break;
        }
    }
    Ok(())
}

fn header(ws: &mut Worksheet, cols: &[Column], f: &Formats) -> std::result::Result<(), XlsxError> {
    for (i, c) in cols.iter().enumerate() {
        ws.write_string_with_format(0, i as u16, c.key, &f.header)?;
        let width = match c.ty {
            Ty::DateTime => 20.0,
            Ty::Text => 18.0,
            _ => 14.0,
        };
        ws.set_column_width(i as u16, width)?;
    }
    Ok(())
}

/// Numbers as numbers (rupiah exact: every amount is far below 2^53),
/// dates as Excel dates.
fn write_cell(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    c: &Cell,
    f: &Formats,
) -> std::result::Result<(), XlsxError> {
    match c {
        Cell::Text(None) | Cell::DateTime(None) | Cell::Empty => {}
        Cell::Text(Some(t)) => {
            ws.write_string(row, col, t)?;
        }
        Cell::Int(v) => {
            ws.write_number(row, col, *v as f64)?;
        }
        Cell::Money(v) => {
            ws.write_number_with_format(row, col, *v as f64, &f.money)?;
        }
        Cell::Qty(q) => {
            ws.write_number_with_format(row, col, *q as f64 / 1000.0, &f.qty)?;
        }
        Cell::Date(d) => {
            ws.write_date_with_format(row, col, d, &f.date)?;
        }
        Cell::Month(d) => {
            ws.write_date_with_format(row, col, d, &f.month)?;
        }
        Cell::DateTime(Some(t)) => {
            ws.write_datetime_with_format(row, col, t, &f.datetime)?;
        }
    }
    Ok(())
}
