// The memory walk's page (leak.html: the real screens on the fake backend)
// for tests/office/ui-memory.mjs; built into dist-leak, never into the app.
import { defineConfig, mergeConfig } from 'vite';
import base from './vite.config';

export default mergeConfig(
  base,
  defineConfig({ build: { outDir: 'dist-leak', rollupOptions: { input: 'leak.html' } } }),
);
