// Typed wrappers of the shell's commands (src-tauri/src/lib.rs). Tauri
// maps the camelCase argument names here to the commands' snake_case ones.

import { invoke } from '@tauri-apps/api/core';
import { errorText, type Lang, type T } from './i18n';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type { AppError } from './bindings/AppError';
import type { AppStatus } from './bindings/AppStatus';
import type { CartView } from './bindings/CartView';
import type { CustomerView } from './bindings/CustomerView';
import type { DiscountInput } from './bindings/DiscountInput';
import type { Operator } from './bindings/Operator';
import type { ParkedSale } from './bindings/ParkedSale';
import type { PosSettings } from './bindings/PosSettings';
import type { PrintJob } from './bindings/PrintJob';
import type { ProductHit } from './bindings/ProductHit';
import type { ReceiptView } from './bindings/ReceiptView';
import type { RefundDone } from './bindings/RefundDone';
import type { RefundItem } from './bindings/RefundItem';
import type { CashCountInput } from './bindings/CashCountInput';
import type { NoSaleDone } from './bindings/NoSaleDone';
import type { ReportView } from './bindings/ReportView';
import type { SaleDone } from './bindings/SaleDone';
import type { SyncView } from './bindings/SyncView';
import type { TenderInput } from './bindings/TenderInput';
import type { TenderProgress } from './bindings/TenderProgress';
import type { UndeliveredView } from './bindings/UndeliveredView';

/** What the Windows installer was told for this till (src-tauri `install.rs`). */
export type InstallSettings = {
  server_url: string | null;
  relay_url: string | null;
  branch: string | null;
  till_name: string | null;
  printer: string | null;
  data_dir: string | null;
};

/** What `boot` returns; the start time has had two names. */
export type Boot = {
  status: AppStatus | null;
  process_started_at_ms?: number;
  started_ms?: number;
  install?: InstallSettings;
};

export function startedAt(b: Boot): number | null {
  return b.process_started_at_ms ?? b.started_ms ?? null;
}

/** Any rejection as an `AppError`. */
/** How errors are worded: set by the app when its language changes. */
let wording: { t: T; lang: Lang } | null = null;

export function setErrorWording(t: T, lang: Lang) {
  wording = { t, lang };
}

/** An error from the core, its `message` worded in the cashier's language
 *  from its code (`errorText`); the core's English stays in `detail`. */
export function toAppError(e: unknown): AppError & { detail?: string } {
  let code = 'other';
  let message = '';
  let params: Record<string, string> = {};
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    // Made by the app itself (no params): already in the cashier's words.
    if (!('params' in e)) return e as AppError;
    const o = e as { code: unknown; message: unknown; params?: unknown };
    code = String(o.code);
    message = String(o.message);
    if (o.params && typeof o.params === 'object') {
      for (const [k, v] of Object.entries(o.params)) if (typeof v === 'string') params[k] = v;
    }
  } else {
    message = e instanceof Error ? e.message : String(e);
  }
  if (!wording) return { code, message, params };
  return { code, message: errorText(wording.t, wording.lang, code, params, message), params, detail: message };
}

export function errorCode(e: unknown): string {
  return toAppError(e).code;
}

const call = <T>(cmd: string, args?: Record<string, unknown>) => invoke<T>(cmd, args);

export const api = {
  boot: () => call<Boot>('boot'),
  setupTrial: (deviceName: string, supervisor: string, pin: string) =>
    call<AppStatus>('setup_trial', { deviceName, supervisor, pin }),
  setupEnrolled: (a: { branch: string; deviceName: string; server: string; code: string; relay: string | null }) =>
    call<AppStatus>('setup_enrolled', a),
  status: () => call<AppStatus>('status'),
  saveSettings: (settings: PosSettings) => call<AppStatus>('save_settings', { settings }),
  cashiers: () => call<Operator[]>('cashiers'),
  signIn: (userId: string, pin: string) => call<AppStatus>('sign_in', { userId, pin }),
  lock: () => call<AppStatus>('lock_till'),
  unlock: (pin: string) => call<AppStatus>('unlock', { pin }),
  signOut: (confirmed: boolean) => call<AppStatus>('sign_out', { confirmed }),
  openShift: (float: number) => call<AppStatus>('open_shift', { float }),
  cashMove: (direction: 'in' | 'out', amount: number, reason: string | null) =>
    call<AppStatus>('cash_move', { direction, amount, reason }),
  xReport: (print: boolean) => call<ReportView>('x_report', { print }),
  closeShift: (countedCash: number, denominations: CashCountInput[], confirmed: boolean) =>
    call<ReportView>('close_shift', { countedCash, denominations, confirmed }),
  openDrawer: (reason: string) => call<NoSaleDone>('open_drawer', { reason }),
  cart: () => call<CartView>('cart'),
  scan: (code: string) => call<CartView>('scan', { code }),
  search: (text: string) => call<ProductHit[]>('search', { text }),
  setQuantity: (index: number, quantity: string) => call<CartView>('set_quantity', { index, quantity }),
  removeLine: (index: number) => call<CartView>('remove_line', { index }),
  setLineDiscount: (index: number, discount: DiscountInput | null, supervisorPin: string | null) =>
    call<CartView>('set_line_discount', { index, discount, supervisorPin }),
  setCartDiscount: (discount: DiscountInput | null, supervisorPin: string | null) =>
    call<CartView>('set_cart_discount', { discount, supervisorPin }),
  clearCart: () => call<CartView>('clear_cart'),
  park: (label: string) => call<CartView>('park', { label }),
  parked: () => call<ParkedSale[]>('parked'),
  resume: (parkId: string) => call<CartView>('resume', { parkId }),
  pay: (tenders: TenderInput[]) => call<SaleDone>('pay', { tenders }),
  receipt: (receiptNo: string) => call<ReceiptView>('receipt', { receiptNo }),
  lastReceipt: () => call<string | null>('last_receipt'),
  reprint: (receiptNo: string) => call<number | null>('reprint', { receiptNo }),
  voidSale: (receiptNo: string, supervisorPin: string | null, reason: string | null) =>
    call<AppStatus>('void_sale', { receiptNo, supervisorPin, reason }),
  refund: (
    receiptNo: string,
    items: RefundItem[],
    method: string,
    supervisorPin: string | null,
    reason: string | null,
  ) => call<RefundDone>('refund', { receiptNo, items, method, supervisorPin, reason }),
  refundUnverified: (receiptNo: string, items: RefundItem[], method: string, supervisorPin: string | null, reason: string) =>
    call<RefundDone>('refund_unverified', { receiptNo, items, method, supervisorPin, reason }),
  printJobs: () => call<PrintJob[]>('print_jobs'),
  retryPrint: () => call<PrintJob[]>('retry_print'),
  syncState: () => call<SyncView>('sync_state'),
  undelivered: () => call<UndeliveredView>('undelivered'),
  syncNow: () => call<SyncView>('sync_now'),
  customerView: () => call<CustomerView>('customer_view'),
  /** The tender screen for the customer display; null: back on the scan screen. */
  customerTender: (progress: TenderProgress | null) => call<CustomerView>('customer_tender', { progress }),
};

export function onSync(f: (v: SyncView) => void): Promise<UnlistenFn> {
  return listen<SyncView>('sync', (e) => f(e.payload));
}

export function onPrint(f: (jobs: PrintJob[]) => void): Promise<UnlistenFn> {
  return listen<PrintJob[]>('print', (e) => f(e.payload));
}

/** The customer display's view, pushed by the shell whenever it changes. */
export function onCustomer(f: (v: CustomerView) => void): Promise<UnlistenFn> {
  return listen<CustomerView>('customer', (e) => f(e.payload));
}
