import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  resolve: {
    // simple-peer's own browser build: the CommonJS entry needs Node's `global`, `events`, `process`.
    alias: {
      'simple-peer': 'simple-peer/simplepeer.min.js',
      // The example tasks a tab can train (`?task=`, src/page-tasks.ts), each its own chunk.
      '@tabswarm/examples': fileURLToPath(new URL('../examples/src', import.meta.url)),
    },
  },
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 4000,
    // Two pages: the tab, and the organiser's (served by the signaling server at /organise, behind its admin token).
    rollupOptions: {
      input: {
        main: fileURLToPath(new URL('index.html', import.meta.url)),
        organise: fileURLToPath(new URL('organise.html', import.meta.url)),
      },
    },
  },
  // The MNIST IDX files have no extension; serve them as plain assets.
  assetsInclude: ['**/*-idx3-ubyte', '**/*-idx1-ubyte'],
  server: { port: 5173 },
});
