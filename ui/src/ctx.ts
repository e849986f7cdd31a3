import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { AppError } from './bindings/AppError';
import type { AppStatus } from './bindings/AppStatus';
import type { PrintJob } from './bindings/PrintJob';
import type { ReportView } from './bindings/ReportView';
import type { SyncView } from './bindings/SyncView';
import type { Lang, T } from './i18n';

export type Overlay =
  | { kind: 'menu' }
  | { kind: 'receipt' }
  | { kind: 'settings' }
  | { kind: 'undelivered' }
  | { kind: 'print_queue' }
  | { kind: 'report'; report: ReportView };

export type AppCtx = {
  t: T;
  lang: Lang;
  status: AppStatus | null;
  setStatus(s: AppStatus): void;
  refreshStatus(): Promise<void>;
  /** Show a failed command to the cashier (and catch up if it was a sign-out or lock). */
  fail(e: unknown): AppError;
  clearError(): void;
  notify(message: string): void;
  /**
   * Run `call` without a PIN; if the core wants a supervisor, ask for one
   * and retry until it is accepted or the cashier cancels (null).
   */
  supervised<R>(call: (pin: string | null) => Promise<R>): Promise<R | null>;
  open(o: Overlay): void;
  closeOverlay(): void;
  printJobs: PrintJob[];
  setPrintJobs(j: PrintJob[]): void;
  sync: SyncView | null;
  setSync(v: SyncView): void;
};

export const Ctx = createContext<AppCtx>(null as unknown as AppCtx);

export function useApp(): AppCtx {
  return useContext(Ctx);
}
