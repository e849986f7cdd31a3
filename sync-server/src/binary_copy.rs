//! Rows for `COPY … FROM STDIN (FORMAT binary)`: each value in PostgreSQL's
//! own binary form, so the server parses no text and runs no `UNNEST`. The
//! ingest writes its plain inserts (journal, sale lines, payments, stock
//! movements) this way; see "Ingest close to the floor" in
//! `docs/benchmarks.md`.
//!
//! The format (PostgreSQL manual, "COPY", "Binary Format"): a header, then
//! per row a 16-bit field count and per field a 32-bit length (−1 for NULL)
//! and the bytes, then a trailer.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// PostgreSQL's epoch for `timestamptz` and `date`: 2000-01-01 UTC.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
const PG_EPOCH_DAYS_FROM_CE: i32 = 730_120;

/// The rows of one `COPY`, built in memory.
pub struct BinaryCopy {
    buf: Vec<u8>,
    fields: i16,
    /// Fields written in the current row.
    in_row: i16,
    rows: u64,
    /// A row with the wrong number of fields (a bug, reported by `send`).
    malformed: bool,
}

impl BinaryCopy {
    /// Rows of `fields` columns each.
    pub fn new(fields: i16) -> BinaryCopy {
        let mut buf = Vec::with_capacity(4096);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension
        BinaryCopy {
            buf,
            fields,
            in_row: fields,
            rows: 0,
            malformed: false,
        }
    }

    /// Starts a row; its fields follow.
    pub fn row(&mut self) -> &mut Self {
        self.end_row();
        self.buf.extend_from_slice(&self.fields.to_be_bytes());
        self.in_row = 0;
        self.rows += 1;
        self
    }

    fn end_row(&mut self) {
        if self.in_row != self.fields {
            self.malformed = true;
        }
    }

    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        self.in_row += 1;
        match i32::try_from(bytes.len()) {
            Ok(len) => {
                self.buf.extend_from_slice(&len.to_be_bytes());
                self.buf.extend_from_slice(bytes);
            }
            // Past 2 GiB: cannot be a field (the request limit is far below).
            Err(_) => self.malformed = true,
        }
        self
    }

    pub fn null(&mut self) -> &mut Self {
        self.in_row += 1;
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }

    pub fn uuid(&mut self, u: Uuid) -> &mut Self {
        self.field(u.as_bytes())
    }

    pub fn int2(&mut self, n: i16) -> &mut Self {
        self.field(&n.to_be_bytes())
    }

    pub fn int4(&mut self, n: i32) -> &mut Self {
        self.field(&n.to_be_bytes())
    }

    pub fn int8(&mut self, n: i64) -> &mut Self {
        self.field(&n.to_be_bytes())
    }

    pub fn text(&mut self, s: &str) -> &mut Self {
        self.field(s.as_bytes())
    }

    pub fn opt_text(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    pub fn bytea(&mut self, b: &[u8]) -> &mut Self {
        self.field(b)
    }

    /// `jsonb`: a version byte (1), then the JSON text.
    pub fn jsonb(&mut self, json: &str) -> &mut Self {
        self.in_row += 1;
        match i32::try_from(json.len() + 1) {
            Ok(len) => {
                self.buf.extend_from_slice(&len.to_be_bytes());
                self.buf.push(1);
                self.buf.extend_from_slice(json.as_bytes());
            }
            Err(_) => self.malformed = true,
        }
        self
    }

    /// `timestamptz`: microseconds since 2000-01-01 UTC.
    pub fn timestamptz(&mut self, t: DateTime<Utc>) -> &mut Self {
        self.int8(t.timestamp_micros() - PG_EPOCH_MICROS)
    }

    /// `date`: days since 2000-01-01.
    pub fn date(&mut self, d: NaiveDate) -> &mut Self {
        use chrono::Datelike as _;
        self.int4(d.num_days_from_ce() - PG_EPOCH_DAYS_FROM_CE)
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Runs `statement` (a `COPY … FROM STDIN (FORMAT binary)`) with these
    /// rows; returns the rows PostgreSQL copied. Nothing is sent for no rows.
    pub async fn send(mut self, conn: &mut PgConnection, statement: &str) -> sqlx::Result<u64> {
        if self.rows == 0 {
            return Ok(0);
        }
        self.end_row();
        if self.malformed {
            return Err(sqlx::Error::Protocol(format!(
                "binary COPY rows do not match their {} columns: {statement}",
                self.fields
            )));
        }
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        let mut copy = conn.copy_in_raw(statement).await?;
        if let Err(e) = copy.send(self.buf).await {
            // The error is the one worth reporting, not the abort's.
            let _ = copy.abort("the ingest could not send its rows").await;
            return Err(e);
        }
        copy.finish().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epochs_are_postgres_s() {
        let epoch = DateTime::<Utc>::from_timestamp(946_684_800, 0).unwrap_or_default();
        let mut c = BinaryCopy::new(2);
        c.row().timestamptz(epoch).date(epoch.date_naive());
        // Length 8 and a zero timestamp, then length 4 and a zero date.
        let mut expected = vec![0, 0, 0, 8];
        expected.extend([0; 8]);
        expected.extend([0, 0, 0, 4]);
        expected.extend([0; 4]);
        assert!(c.buf.ends_with(&expected), "{:?}", c.buf);
    }

    #[test]
    fn a_row_with_a_field_missing_is_refused_before_anything_is_sent() {
        let mut c = BinaryCopy::new(2);
        c.row().int4(1);
        c.end_row();
        assert!(c.malformed);
        let mut ok = BinaryCopy::new(2);
        ok.row().int4(1).null();
        ok.row().text("a").int8(2);
        ok.end_row();
        assert!(!ok.malformed);
        assert_eq!(ok.rows(), 2);
    }
}
