// Runs the browser half of tests/e2e_browser.rs:
//
//   1. bundles page.js (real Uppy 6 from node_modules) with esbuild, in memory;
//   2. serves it on http://127.0.0.1:PAGE_PORT (its own origin, which the worker's
//      CORS_ALLOWED_ORIGINS and the CORS proxy allow);
//   3. starts Debian's /usr/bin/chromium headless (in this process's group, so the test's group
//      kill ends it too) and drives it with playwright-core over CDP;
//   4. opens the page with ?presign=WORKER_URL&token=JWT and waits (bounded) for
//      window.__presignTest;
//   5. prints `RESULT <json>` (the page's report plus the browser console) and exits 0 when the
//      page says ok, 1 otherwise.
//
//   node run.mjs --page-port N --presign http://127.0.0.1:P --token JWT [--timeout-ms 120000]
//                [--chromium /usr/bin/chromium] [--profile-dir DIR]

import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import * as esbuild from 'esbuild'
import { openBrowser } from './chromium.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const { values: opts } = parseArgs({
  options: {
    'page-port': { type: 'string' },
    presign: { type: 'string' },
    token: { type: 'string' },
    'timeout-ms': { type: 'string', default: '120000' },
    chromium: { type: 'string', default: process.env.CHROMIUM_BIN || '/usr/bin/chromium' },
    'profile-dir': { type: 'string' },
  },
})
for (const name of ['page-port', 'presign', 'token']) {
  if (!opts[name]) {
    console.error(`run.mjs: --${name} is required`)
    process.exit(2)
  }
}
const TIMEOUT_MS = Number(opts['timeout-ms'])
const started = Date.now()
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`
const say = (msg) => console.error(`[run ${elapsed()}] ${msg}`)

let server = null

// 1. The page bundle.
const bundle = await esbuild.build({
  entryPoints: [path.join(HERE, 'page.js')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  write: false,
  logLevel: 'warning',
})
const pageJs = bundle.outputFiles[0].contents
say(`bundled page.js (${pageJs.length} bytes)`)

// 2. The page's origin.
const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>presign-worker: Uppy 6 browser test</title></head>
<body><p>presign-worker: Uppy 6 browser test</p><script type="module" src="/page.js"></script></body></html>
`
server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x')
  if (url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
    res.end(html)
  } else if (url.pathname === '/page.js') {
    res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' })
    res.end(pageJs)
  } else if (url.pathname === '/favicon.ico') {
    res.writeHead(204)
    res.end()
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' })
    res.end('not found\n')
  }
})
await new Promise((resolve, reject) => {
  server.once('error', reject)
  server.listen(Number(opts['page-port']), '127.0.0.1', resolve)
})
const pageOrigin = `http://127.0.0.1:${opts['page-port']}`
say(`serving the page on ${pageOrigin}`)

// 3. Chromium (tests/browser/chromium.mjs).
let consoleLines = []
let report
let opened
try {
  opened = await openBrowser({ executable: opts.chromium, profileDir: opts['profile-dir'], say })
  consoleLines = opened.consoleLines
  const { page } = opened

  // 4. The upload.
  const url = `${pageOrigin}/?${new URLSearchParams({ presign: opts.presign, token: opts.token })}`
  await page.goto(url, { waitUntil: 'load', timeout: 30_000 })
  const remaining = Math.max(1000, TIMEOUT_MS - (Date.now() - started))
  try {
    await page.waitForFunction(() => window.__presignTest?.done === true, null, {
      timeout: remaining,
      polling: 250,
    })
    report = await page.evaluate(() => window.__presignTest)
  } catch (e) {
    const partial = await page.evaluate(() => window.__presignTest ?? null).catch(() => null)
    report = { ok: false, error: `the page did not finish within ${TIMEOUT_MS} ms: ${e.message}`, partial }
  }
} catch (e) {
  report = { ok: false, error: `browser: ${e.stack ?? e}` }
}

// 5. The report.
report.console = consoleLines
report.runMs = Date.now() - started
console.log(`RESULT ${JSON.stringify(report)}`)
say(report.ok ? 'page reported success' : `page reported failure: ${report.error}`)
await opened?.close()
server.close()
say('chromium stopped')
process.exit(report.ok ? 0 : 1)
