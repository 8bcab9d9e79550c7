import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The Makefile passes --outDir (build/web); `npm run build` alone writes web/dist.
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 2000, sourcemap: false },
  server: { proxy: { '/v1': 'http://127.0.0.1:8080' } },
  test: { include: ['tests/unit/**/*.test.ts'], environment: 'node' },
} as any);
