// Vite builds the client into dist/ (index.html + content-hashed files under assets/), which the
// server serves by default. JSX goes through esbuild's automatic runtime: no React plugin needed.
import { defineConfig } from 'vitest/config';

// `npm run dev` proxies the API and Socket.IO to a server started with `make run` (port 8080).
const backend = process.env.REDCHAT_BACKEND ?? 'http://127.0.0.1:8080';
const apiPaths = ['/me', '/login', '/logout', '/rooms', '/room', '/users', '/links'];

export default defineConfig({
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: false,
  },
  server: {
    proxy: {
      '/socket.io': { target: backend, ws: true },
      ...Object.fromEntries(apiPaths.map((p) => [p, { target: backend }])),
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
