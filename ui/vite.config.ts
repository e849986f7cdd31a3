/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// Relative asset paths: Tauri serves ui/dist from its own protocol.
export default defineConfig({
  base: './',
  plugins: [preact({ prerender: { enabled: false } })],
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: {
    outDir: 'dist',
    target: 'es2021',
    sourcemap: false,
    assetsInlineLimit: 4096,
    // One chunk, loaded from disk: no preload polyfill needed.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    environment: 'node',
  },
});
