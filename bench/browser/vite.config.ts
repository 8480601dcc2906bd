/** Builds the benchmark page (bench/browser) on its own, apart from the client app. */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // tfjs is one large chunk; the page is never shipped to users.
    chunkSizeWarningLimit: 4000,
  },
});
