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

let scanStartedAt: number | null = null;

/** The scan's Enter was pressed. */
export function scanStarted(): void {
  scanStartedAt = performance.now();
}

/** The cart was redrawn: record the scan's time once the frame is painted. */
export function cartPainted(): void {
  const t0 = scanStartedAt;
  if (t0 === null) return;
  scanStartedAt = null;
  requestAnimationFrame(() => perf().scans.push(performance.now() - t0));
}

export function scanFailed(): void {
  scanStartedAt = null;
}

export function pinScreenShown(): void {
  const p = perf();
  if (p.pinScreenAt === undefined) p.pinScreenAt = Date.now();
}
