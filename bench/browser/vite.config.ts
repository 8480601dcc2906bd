/**
 * Builds the benchmark pages (bench/browser) on their own, apart from the client app: index.html
 * (compression) and goodput.html (a bare data channel against the ring).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // tfjs is one large chunk; the page is never shipped to users.
    chunkSizeWarningLimit: 4000,
    rollupOptions: { input: { index: `${root}index.html`, goodput: `${root}goodput.html` } },
  },
  resolve: {
    // simple-peer's own browser build (the client's WebRTC transport imports it), as the client does.
    alias: { 'simple-peer': 'simple-peer/simplepeer.min.js' },
  },
});
