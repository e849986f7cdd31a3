// What the bundled fonts can draw: the unicode-range of every 'Noto Sans'
// face in fonts.css. Anything else on screen would fall back to whatever
// font the till has, or to an empty box.

/// <reference types="node" />
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

// Read as a file (Vitest hands CSS imports to tests empty), from the UI's
// root, where Vitest runs (the DOM tests' import.meta.url is not a file).
const fontsCss = readFileSync(resolve(process.cwd(), 'src/fonts.css'), 'utf8');

function ranges(): [number, number][] {
  const out: [number, number][] = [];
  for (const face of fontsCss.split('@font-face').slice(1)) {
    if (!/font-family:\s*'Noto Sans';/.test(face)) continue;
    const m = /unicode-range:\s*([^;]+);/.exec(face);
    if (!m) continue;
    for (const part of m[1].split(',')) {
      const [a, b] = part.trim().replace(/^U\+/i, '').split('-');
      out.push([parseInt(a, 16), parseInt(b ?? a, 16)]);
    }
  }
  return out;
}

const COVERED = ranges();

/** The characters of `text` the bundled fonts cannot draw (line breaks aside). */
export function undrawable(text: string): string[] {
  const missing = new Set<string>();
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp === 0x0a || cp === 0x0d || cp === 0x09) continue;
    if (!COVERED.some(([a, b]) => cp >= a && cp <= b)) missing.add(`${ch} U+${cp.toString(16).toUpperCase().padStart(4, '0')}`);
  }
  return [...missing];
}

export const coveredRangeCount = COVERED.length;
