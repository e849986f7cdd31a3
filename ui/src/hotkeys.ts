// One keydown listener for the whole window; screens and dialogs register
// handlers on a stack and the newest gets each key first. A handler
// returns true when the key is taken (dialogs take every key, so the
// screen below never acts while one is open).

import { useLayoutEffect, useRef } from 'preact/hooks';
import { isReservedKey } from './keys';

export type Handler = (e: KeyboardEvent) => boolean | void;

const stack: { current: Handler }[] = [];
let installed = false;

function install() {
  if (installed || typeof window === 'undefined') return;
  installed = true;
  window.addEventListener(
    'keydown',
    (e) => {
      // F5 must not reload the till, F7 not turn on caret browsing, …
      if (isReservedKey(e)) e.preventDefault();
      for (let i = stack.length - 1; i >= 0; i--) {
        if (stack[i]!.current(e)) return;
      }
    },
    true,
  );
}

/**
 * Register `fn` while mounted (and `enabled`). `base` handlers go under
 * every other one: the app's fallbacks, whatever mounted first.
 */
export function useHotkeys(fn: Handler, enabled = true, base = false): void {
  const ref = useRef<Handler>(fn);
  ref.current = fn;
  // Layout effect: live as soon as the screen is in the DOM, before paint.
  useLayoutEffect(() => {
    if (!enabled) return;
    install();
    if (base) stack.unshift(ref);
    else stack.push(ref);
    return () => {
      const i = stack.indexOf(ref);
      if (i >= 0) stack.splice(i, 1);
    };
  }, [enabled, base]);
}

/** A short tone for an unknown code (no sound file needed). */
export function beep(): void {
  try {
    const Ctx = window.AudioContext;
    if (!Ctx) return;
    const ac = new Ctx();
    const osc = ac.createOscillator();
    const gain = ac.createGain();
    osc.frequency.value = 440;
    gain.gain.value = 0.15;
    osc.connect(gain).connect(ac.destination);
    osc.start();
    osc.stop(ac.currentTime + 0.18);
    osc.onended = () => void ac.close();
  } catch {
    // No audio: the red banner is enough.
  }
}
