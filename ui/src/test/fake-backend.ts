// A stand-in for the Rust side, for the component tests: just enough of
// the commands in src-tauri/src/lib.rs to walk through a shift.

import type { AppStatus } from '../bindings/AppStatus';
import type { CartView } from '../bindings/CartView';
import type { DiscountInput } from '../bindings/DiscountInput';
import type { Operator } from '../bindings/Operator';
import type { PrintJob } from '../bindings/PrintJob';
import type { ReportView } from '../bindings/ReportView';
import type { SyncView } from '../bindings/SyncView';
import type { TenderInput } from '../bindings/TenderInput';
import { quickCash } from '../tender';

/** What a command rejects with: an `AppError`. */
const err = (code: string, message: string) => ({ code, message });

const PRODUCTS = [
  { sku: 'TEH', name: 'Teh Botol', unit_price: 5000, barcode: '8991001', on_hand_milli: 24000 },
  { sku: 'BERAS', name: 'Beras (kg)', unit_price: 14000, barcode: '8991002', on_hand_milli: 12500 },
  { sku: 'INDOMIE', name: 'Indomie Goreng', unit_price: 3500, barcode: '8991003', on_hand_milli: null },
];

type Line = { sku: string; milli: number; discount: DiscountInput | null };
type CustomerTender = { method: string; tendered: number } | null;

export class FakeBackend {
  setup: AppStatus['setup'] = null;
  operator: Operator | null = null;
  locked = false;
  shiftOpen = false;
  cashiers: { op: Operator; pin: string }[] = [];
  lines: Line[] = [];
  cartDiscount: DiscountInput | null = null;
  changed: number | null = null;
  sales: { no: string; total: number; voided: boolean }[] = [];
  jobs: PrintJob[] = [];
  pendingEntries = 0;
  noSales = 0;
  calls: { cmd: string; args: Record<string, unknown> }[] = [];
  /** What the tender screen last told the customer display. */
  customerTender: CustomerTender = null;

  status(): AppStatus {
    return {
      setup: this.setup,
      branch: 'TRIAL',
      device_name: 'Kasir 1',
      operator: this.operator,
      locked: this.locked,
      shift: this.shiftOpen
        ? { shift_id: 's1', opened_at_ms: Date.now(), cashier: this.operator?.name ?? null, opening_float: 0, expected_cash: 0, sales_count: this.sales.length }
        : null,
      settings: { printer: '127.0.0.1:9100', paper: 'mm58', language: 'en', supervisor_discount_pct: '10', store_name: 'Sentra', receipt_footer: 'Thanks', customer_display: 'auto' },
      parked: 0,
      version: '0.1.0',
    };
  }

  private discountOf(base: number, d: DiscountInput | null): number {
    if (!d) return 0;
    if (d.kind === 'amount') return Math.min(base, d.amount);
    return Math.round((base * Number(d.percent.replace(',', '.'))) / 100);
  }

  cart(): CartView {
    const lines = this.lines.map((l, i) => {
      const p = PRODUCTS.find((x) => x.sku === l.sku)!;
      const gross = Math.round((p.unit_price * l.milli) / 1000);
      const discount_amount = this.discountOf(gross, l.discount);
      return { index: i, sku: l.sku, name: p.name, quantity_milli: l.milli, unit_price: p.unit_price, discount: l.discount, gross, discount_amount, total: gross - discount_amount, on_hand_milli: p.on_hand_milli };
    });
    const gross = lines.reduce((s, l) => s + l.gross, 0);
    const afterLines = lines.reduce((s, l) => s + l.total, 0);
    const cartDisc = this.discountOf(afterLines, this.cartDiscount);
    const total = afterLines - cartDisc;
    return { lines, discount: this.cartDiscount, gross, discounts: gross - total, tax: Math.round(total / 11), total, tax_mode: 'inclusive', changed: this.changed, quick_cash: quickCash(total) };
  }

  private needOperator() {
    if (!this.operator) throw err('not_signed_in', 'nobody is signed in');
    if (this.locked) throw err('locked', 'the till is locked');
  }

  private checkDiscount(base: number, d: DiscountInput | null, pin: string | null) {
    if (!d || this.operator?.role === 'supervisor') return;
    if (this.discountOf(base, d) * 100 <= 10 * base) return;
    if (pin === null) throw err('supervisor_required', 'a discount above 10% needs a supervisor');
    if (pin !== '999999') throw err('supervisor_rejected', 'that is not a supervisor PIN');
  }

  private undelivered(confirmed: boolean) {
    if (!confirmed && this.pendingEntries > 0) {
      throw err('undelivered', `${this.pendingEntries} records have not reached head office`);
    }
  }

  handle = (cmd: string, a: Record<string, unknown> = {}): unknown => {
    this.calls.push({ cmd, args: a });
    switch (cmd) {
      case 'boot':
        return { status: this.setup ? this.status() : null, process_started_at_ms: Date.now() - 500 };
      case 'setup_trial':
        this.setup = 'trial';
        this.cashiers = [
          { op: { user_id: 'local-sup', name: String(a.supervisor), role: 'supervisor' }, pin: String(a.pin) },
          { op: { user_id: 'local-ani', name: 'Ani', role: 'cashier' }, pin: '1234' },
        ];
        return this.status();
      case 'status':
        return this.status();
      case 'cashiers':
        return this.cashiers.map((c) => c.op);
      case 'sign_in': {
        const c = this.cashiers.find((x) => x.op.user_id === a.userId && x.pin === a.pin);
        if (!c) throw err('pin_rejected', 'wrong cashier or PIN');
        this.operator = c.op;
        this.locked = false;
        return this.status();
      }
      case 'lock_till':
        this.needOperator();
        this.locked = true;
        return this.status();
      case 'unlock': {
        const c = this.cashiers.find((x) => x.op.user_id === this.operator?.user_id);
        if (c?.pin !== a.pin && a.pin !== '999999') throw err('pin_rejected', 'wrong PIN');
        this.locked = false;
        return this.status();
      }
      case 'sign_out':
        this.needOperator();
        this.undelivered(!!a.confirmed);
        this.operator = null;
        return this.status();
      case 'open_shift':
        this.needOperator();
        this.shiftOpen = true;
        return this.status();
      case 'cart':
        return this.cart();
      case 'scan': {
        this.needOperator();
        const text = String(a.code);
        const [q, code] = text.includes('*') ? text.split('*') : ['1', text];
        const p = PRODUCTS.find((x) => x.sku === code || x.barcode === code);
        if (!p) throw err('unknown_item', `unknown item "${code}"`);
        const milli = Math.round(Number(q!.replace(',', '.')) * 1000);
        const last = this.lines[this.lines.length - 1];
        if (last && last.sku === p.sku && !last.discount) last.milli += milli;
        else this.lines.push({ sku: p.sku, milli, discount: null });
        this.changed = this.lines.length - 1;
        return this.cart();
      }
      case 'search': {
        const t = String(a.text).toLowerCase();
        return PRODUCTS.filter((p) => p.name.toLowerCase().includes(t));
      }
      case 'set_quantity': {
        const i = Number(a.index);
        this.lines[i]!.milli = Math.round(Number(String(a.quantity).replace(',', '.')) * 1000);
        this.changed = i;
        return this.cart();
      }
      case 'remove_line':
        this.lines.splice(Number(a.index), 1);
        this.changed = null;
        return this.cart();
      case 'set_line_discount': {
        const i = Number(a.index);
        const line = this.cart().lines[i]!;
        this.checkDiscount(line.gross, (a.discount as DiscountInput) ?? null, (a.supervisorPin as string) ?? null);
        this.lines[i]!.discount = (a.discount as DiscountInput) ?? null;
        this.changed = i;
        return this.cart();
      }
      case 'set_cart_discount':
        this.checkDiscount(this.cart().total, (a.discount as DiscountInput) ?? null, (a.supervisorPin as string) ?? null);
        this.cartDiscount = (a.discount as DiscountInput) ?? null;
        return this.cart();
      case 'pay': {
        const tenders = a.tenders as TenderInput[];
        const total = this.cart().total;
        const paid = tenders.reduce((s, t) => s + t.amount, 0);
        if (paid < total) throw err('invalid', 'not paid in full');
        const no = `R-${this.sales.length + 1}`;
        this.sales.push({ no, total, voided: false });
        this.lines = [];
        this.cartDiscount = null;
        this.changed = null;
        this.pendingEntries++;
        const job: PrintJob = { job_id: this.jobs.length + 1, document: no, kind: 'receipt', status: 'pending', attempts: 0, last_error: null, created_at_ms: Date.now(), printed_at_ms: null };
        this.jobs.push(job);
        return { receipt_no: no, total, paid, change: paid - total, preview: ['SENTRA', no, `TOTAL ${total}`], print_job: job.job_id };
      }
      case 'print_jobs':
      case 'retry_print':
        return this.jobs;
      case 'last_receipt':
        return this.sales.at(-1)?.no ?? null;
      case 'receipt': {
        const s = this.sales.find((x) => x.no === a.receiptNo);
        if (!s) throw err('unknown_receipt', 'no such receipt');
        return { receipt_no: s.no, status: s.voided ? 'voided' : 'completed', other_till: null, total: s.total, sold_at_ms: Date.now(), lines: [], preview: [s.no] };
      }
      case 'void_sale': {
        if (this.operator?.role !== 'supervisor') {
          if (a.supervisorPin == null) throw err('supervisor_required', 'voiding a sale needs a supervisor');
          if (a.supervisorPin !== '999999') throw err('supervisor_rejected', 'that is not a supervisor PIN');
        }
        const s = this.sales.find((x) => x.no === a.receiptNo);
        if (!s) throw err('unknown_receipt', 'no such receipt');
        s.voided = true;
        return this.status();
      }
      case 'sync_state':
      case 'sync_now':
        return this.syncView('local_only');
      case 'undelivered':
        return { entries: [{ seq: 1, kind: 'sale', at_ms: Date.now(), held_by: 'local' }], more: 0, refused: [] };
      case 'x_report':
        return this.report('X', null);
      case 'close_shift':
        this.needOperator();
        this.undelivered(!!a.confirmed);
        this.shiftOpen = false;
        return this.report('Z', Number(a.countedCash));
      case 'open_drawer':
        this.needOperator();
        if (String(a.reason ?? '').trim() === '') throw err('invalid', 'a reason is needed');
        this.noSales += 1;
        return { no_sales: this.noSales, print_job: null };
      case 'save_settings':
        return { ...this.status(), settings: a.settings };
      case 'customer_tender':
        this.customerTender = (a.progress as CustomerTender) ?? null;
        return null;
      default:
        throw err('other', `the fake has no ${cmd}`);
    }
  };

  syncView(state: string): SyncView {
    return { state, message: null, local: this.pendingEntries, relay_only: 0, in_cloud: 0, refused: 0, last_success_ms: null, last_upstream: null, relay_configured: false };
  }

  report(kind: string, counted: number | null): ReportView {
    const total = this.sales.filter((s) => !s.voided).reduce((n, s) => n + s.total, 0);
    return {
      kind,
      lines: [`${kind} REPORT`, `SALES ${total}`],
      sales_count: this.sales.length,
      sales_total: total,
      voids_count: this.sales.filter((s) => s.voided).length,
      no_sales: this.noSales,
      refunds_total: 0,
      payments: [{ method: 'cash', amount: total }],
      expected_cash: total,
      counted_cash: counted,
      variance: counted === null ? null : counted - total,
      print_job: null,
    };
  }
}
