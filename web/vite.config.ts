import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The Makefile passes --outDir (build/web); `npm run build` alone writes web/dist.
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 600,
    sourcemap: false,
    rollupOptions: {
      output: {
        // Vendor chunks change rarely, so browsers keep them cached across console releases.
        manualChunks(id: string) {
          if (!id.includes('node_modules') || id.endsWith('.css')) return undefined;
          if (/node_modules\/(react|react-dom|react-router|react-router-dom|scheduler|@remix-run)\//.test(id)) return 'react';
          if (/node_modules\/(recharts|d3-[a-z-]+|victory-vendor|@mantine\/charts|recharts-scale|lodash|react-smooth|decimal\.js-light|eventemitter3|internmap|fast-equals|tiny-invariant)\//.test(id)) return 'charts';
          if (/node_modules\/@mantine\/(core|hooks|notifications)\//.test(id) || /@floating-ui|react-remove-scroll|react-textarea-autosize|use-callback-ref|use-sidecar|react-style-singleton|get-nonce|detect-node-es|aria-hidden|tslib|type-fest|clsx/.test(id)) return 'mantine';
          return undefined;
        },
      },
    },
  },
  server: { proxy: { '/v1': 'http://127.0.0.1:8080' } },
  test: { include: ['tests/unit/**/*.test.ts'], environment: 'node' },
} as any);
