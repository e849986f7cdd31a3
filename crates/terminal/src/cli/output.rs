//! Human and JSON output. JSON amounts are integers in whole rupiah.

use std::io::Write as _;

/// `println!` that returns an error instead of panicking (a closed pipe).
macro_rules! outln {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*)?
    };
}

use anyhow::Result;
use sentra_domain::{Money, Quantity};
use sentra_protocol::Entry;
use sentra_terminal::catalog::{ImportSummary, Product};
use sentra_terminal::journal::Verification;
use sentra_terminal::projection::ProjectionCheck;
use sentra_terminal::reports::ShiftReport;
use sentra_terminal::{InitReport, Recorded, RefundReceipt, SaleReceipt, Terminal};
use serde::Serialize;

pub struct Out {
    pub json: bool,
}

fn rp(v: i64) -> String {
    Money::idr(v).to_string()
}

fn qty(milli: i64) -> String {
    if milli < 0 {
        format!("-{}", Quantity::from_milli(-milli))
    } else {
        Quantity::from_milli(milli).to_string()
    }
}

impl Out {
    fn print_json<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        outln!("{}", serde_json::to_string_pretty(value)?);
        Ok(())
    }

    pub fn init(&self, r: &InitReport) -> Result<()> {
        if self.json {
            return self.print_json(r);
        }
        outln!(
            "initialised {}-{} (device {})",
            r.branch,
            r.device_name,
            r.device_id
        );
        outln!("public key {}", r.public_key);
        match &r.key_file {
            Some(f) => outln!("database key: key file {}", f.display()),
            None => outln!("database key: {:?} key store", r.key_store),
        }
        Ok(())
    }

    pub fn info(&self, t: &Terminal) -> Result<()> {
        #[derive(Serialize)]
        struct Info<'a> {
            branch: &'a str,
            device_name: &'a str,
            device_id: String,
            public_key: String,
            key_store: String,
            journal_entries: u64,
            last_hash: String,
            /// What head office set for the branch, as last pulled.
            branch_settings: Option<serde_json::Value>,
        }
        let tip = sentra_terminal::journal::tip(t.connection(), t.device_id())?;
        let m = t.manifest();
        let info = Info {
            branch: &m.branch,
            device_name: &m.device_name,
            device_id: t.device_id().to_string(),
            public_key: hex::encode(t.verifying_key().to_bytes()),
            key_store: format!("{:?}", m.key.kind).to_lowercase(),
            journal_entries: tip.seq,
            last_hash: tip.hash.to_hex(),
            branch_settings: sentra_terminal::sync::branch_settings(t.connection(), &m.branch)?,
        };
        if self.json {
            return self.print_json(&info);
        }
        outln!("terminal     {}-{}", info.branch, info.device_name);
        outln!("device id    {}", info.device_id);
        outln!("public key   {}", info.public_key);
        outln!("key store    {}", info.key_store);
        outln!(
            "journal      {} entries, last hash {}",
            info.journal_entries,
            info.last_hash
        );
        if let Some(b) = &info.branch_settings {
            let field = |k: &str| b.get(k).and_then(|v| v.as_str()).unwrap_or("-").to_owned();
            outln!(
                "seller       {} ({})",
                field("legal_name"),
                field("store_name")
            );
            outln!("NPWP         {}", field("npwp"));
        }
        Ok(())
    }

    pub fn import(&self, s: &ImportSummary) -> Result<()> {
        if self.json {
            return self.print_json(s);
        }
        outln!(
            "imported {} products ({} new, {} updated, {} barcodes)",
            s.products,
            s.added,
            s.updated,
            s.barcodes
        );
        Ok(())
    }

    pub fn operators(&self, people: &[sentra_terminal::pos::cashiers::Operator]) -> Result<()> {
        if self.json {
            return self.print_json(people);
        }
        for p in people {
            outln!("{:<12} {:<24} {}", p.role, p.name, p.user_id);
        }
        Ok(())
    }

    pub fn products(&self, products: &[Product]) -> Result<()> {
        if self.json {
            return self.print_json(products);
        }
        if products.is_empty() {
            outln!("no products found");
        }
        for p in products {
            outln!(
                "{:<14} {:<40} {:>14}  stock {:>8}  {}{}",
                p.sku,
                p.name,
                rp(p.unit_price),
                p.on_hand_milli.map_or_else(|| "-".to_owned(), qty),
                p.barcodes.join(","),
                if p.active {
                    ""
                } else {
                    "  (withdrawn: not sold)"
                }
            );
        }
        Ok(())
    }

    pub fn recorded<T: Serialize>(&self, what: &str, r: &Recorded<T>) -> Result<()> {
        if self.json {
            return self.print_json(r);
        }
        outln!("{what} (journal seq {})", r.seq);
        Ok(())
    }

    pub fn sale(&self, r: &SaleReceipt) -> Result<()> {
        if self.json {
            return self.print_json(r);
        }
        let s = &r.payload;
        outln!("receipt {}", s.receipt_no);
        for l in &s.lines {
            outln!(
                "  {:<30} {:>7} × {:>12} {:>14}",
                l.name,
                qty(l.quantity_milli),
                rp(l.unit_price),
                rp(l.total)
            );
            if l.line_discount > 0 {
                outln!("  {:<30} {:>36}", "  discount", rp(-l.line_discount));
            }
        }
        if s.discounts > 0 {
            outln!("  {:<30} {:>36}", "discounts", rp(-s.discounts));
        }
        outln!("  {:<30} {:>36}", "TOTAL", rp(s.total));
        let label = if s.tax_mode == "inclusive" {
            "incl. PPN"
        } else {
            "PPN"
        };
        outln!("  {:<30} {:>36}", label, rp(s.tax));
        for t in &s.tenders {
            outln!("  {:<30} {:>36}", t.method, rp(t.amount));
        }
        outln!("  {:<30} {:>36}", "change", rp(s.change));
        Ok(())
    }

    pub fn refund(&self, r: &RefundReceipt) -> Result<()> {
        if self.json {
            return self.print_json(r);
        }
        let f = &r.payload;
        outln!("refund {} of receipt {}", f.refund_no, f.receipt_no);
        for l in &f.lines {
            outln!(
                "  {:<30} {:>7} {:>14}",
                l.sku,
                qty(l.quantity_milli),
                rp(l.amount)
            );
        }
        outln!(
            "  {:<30} {:>22}",
            format!("paid back ({})", f.method),
            rp(f.total)
        );
        Ok(())
    }

    pub fn report(&self, r: &ShiftReport) -> Result<()> {
        if self.json {
            return self.print_json(r);
        }
        write!(std::io::stdout().lock(), "{}", r.to_text())?;
        Ok(())
    }

    pub fn verification(&self, v: &Verification) -> Result<()> {
        if self.json {
            return self.print_json(v);
        }
        outln!(
            "journal OK: {} entries, chain and signatures verified, tip seq {} hash {}",
            v.entries,
            v.tip_seq,
            v.tip_hash
        );
        Ok(())
    }

    pub fn entries(&self, entries: &[Entry]) -> Result<()> {
        if self.json {
            return self.print_json(entries);
        }
        for e in entries {
            outln!(
                "{:>6} {:<16} {} {}",
                e.seq,
                e.kind.as_str(),
                e.hash.to_hex(),
                serde_json::to_string(&e.payload)?
            );
        }
        Ok(())
    }

    pub fn check(&self, c: &ProjectionCheck) -> Result<()> {
        if self.json {
            return self.print_json(c);
        }
        if c.differences.is_empty() {
            outln!(
                "projections match the journal ({} entries replayed, {} tables compared)",
                c.entries_replayed,
                c.tables_compared.len()
            );
        } else {
            for d in &c.differences {
                outln!("DIFFERENT {d}");
            }
        }
        Ok(())
    }
}
