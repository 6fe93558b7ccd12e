/** @type {import('next').NextConfig} */
const nextConfig = {
  // PGlite ships WASM and data files that must be loaded from node_modules at run time.
  serverExternalPackages: ['@electric-sql/pglite'],
  // Each test run builds into its own folder so a build never disturbs a running console.
  distDir: process.env.TERN_NEXT_DIST_DIR ?? '.next',
  poweredByHeader: false,
};

export default nextConfig;
