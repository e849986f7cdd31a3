// Figures the end-to-end tests read from the page: scan-to-paint times
// and when the PIN screen first showed.

export type SentraPerf = {
  scans: number[];
  pinScreenAt?: number;
  /** Epoch ms the process started (from `boot`). */
  processStartedAt?: number;
  /** Epoch ms of the first screen after boot. */
  firstScreenAt?: number;
};

declare global {
  interface Window {
    __sentraPerf?: SentraPerf;
  }
}

export function perf(): SentraPerf {
  const w = window;
  if (!w.__sentraPerf) w.__sentraPerf = { scans: [] };
  return w.__sentraPerf;
}

/** Scan timings kept: the last 20,000 to 40,000 (a long, busy shift's worth),
 * so the record never grows with the till's uptime. */
export const MAX_SCAN_TIMINGS = 20_000;

let scanStartedAt: number | null = null;

export function recordScan(ms: number): void {
  const scans = perf().scans;
  scans.push(ms);
  if (scans.length >= 2 * MAX_SCAN_TIMINGS) scans.splice(0, scans.length - MAX_SCAN_TIMINGS);
}

/** The scan's Enter was pressed. */
export function scanStarted(): void {
  scanStartedAt = performance.now();
}

/** The cart was redrawn: record the scan's time once the frame is painted. */
export function cartPainted(): void {
  const t0 = scanStartedAt;
  if (t0 === null) return;
  scanStartedAt = null;
  requestAnimationFrame(() => recordScan(performance.now() - t0));
}

export function scanFailed(): void {
  scanStartedAt = null;
}

export function pinScreenShown(): void {
  const p = perf();
  if (p.pinScreenAt === undefined) p.pinScreenAt = Date.now();
}
