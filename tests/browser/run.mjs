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

import { spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import * as esbuild from 'esbuild'
import { chromium } from 'playwright-core'

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

const consoleLines = []
let browserProc = null
let ownedProfileDir = null
let server = null

const running = (p) => p && p.exitCode === null && p.signalCode === null

// Synchronous, for signals: whatever is left of the browser is killed.
function cleanup() {
  if (running(browserProc)) {
    browserProc.kill('SIGKILL')
  }
  if (ownedProfileDir) {
    fs.rmSync(ownedProfileDir, { recursive: true, force: true, maxRetries: 5 })
  }
  server?.close()
}

// The normal end: SIGTERM, at most 5 s to exit, then SIGKILL.
async function stopBrowser() {
  if (running(browserProc)) {
    const exited = new Promise((resolve) => browserProc.once('exit', resolve))
    browserProc.kill('SIGTERM')
    const t = setTimeout(() => browserProc.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(t)
  }
  cleanup()
}
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    cleanup()
    process.exit(1)
  })
}

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

// 3. Chromium, started here (not by playwright, which puts it in a process group of its own).
// A fresh profile: in --profile-dir (its owner removes it, after this process group is gone),
// or in a temporary directory removed at the end.
let profileDir
if (opts['profile-dir']) {
  profileDir = opts['profile-dir']
  fs.mkdirSync(profileDir, { recursive: true })
} else {
  profileDir = ownedProfileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'presign-worker-chromium-'))
}
const args = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-dev-shm-usage',
  `--user-data-dir=${profileDir}`,
  '--remote-debugging-address=127.0.0.1',
  '--remote-debugging-port=0',
  'about:blank',
]
browserProc = spawn(opts.chromium, args, { stdio: ['ignore', 'pipe', 'pipe'] })
let chromiumLog = ''
const wsEndpoint = await new Promise((resolve, reject) => {
  const timer = setTimeout(
    () => reject(new Error(`chromium printed no DevTools endpoint within 30 s:\n${chromiumLog}`)),
    30_000,
  )
  const onData = (chunk) => {
    chromiumLog += chunk
    const m = /DevTools listening on (ws:\/\/\S+)/.exec(chromiumLog)
    if (m) {
      clearTimeout(timer)
      resolve(m[1])
    }
  }
  browserProc.stdout.on('data', onData)
  browserProc.stderr.on('data', onData)
  browserProc.once('error', (e) => {
    clearTimeout(timer)
    reject(new Error(`cannot start ${opts.chromium}: ${e.message} (scripts/setup.sh --browser installs it)`))
  })
  browserProc.once('exit', (code, sig) => {
    clearTimeout(timer)
    reject(new Error(`chromium exited (${code ?? sig}) before listening:\n${chromiumLog}`))
  })
}).catch((e) => {
  console.log(`RESULT ${JSON.stringify({ ok: false, error: `${e.message}`, console: consoleLines })}`)
  cleanup()
  process.exit(1)
})
say(`chromium pid ${browserProc.pid} at ${wsEndpoint}`)

let report
let browser
try {
  browser = await chromium.connectOverCDP(wsEndpoint, { timeout: 30_000 })
  say(`connected to Chromium ${browser.version()}`)
  const context = await browser.newContext()
  const page = await context.newPage()
  page.on('console', (msg) => {
    const line = `console.${msg.type()}: ${msg.text()}`
    consoleLines.push(line)
    say(line)
  })
  page.on('pageerror', (err) => {
    const line = `pageerror: ${err.stack ?? err}`
    consoleLines.push(line)
    say(line)
  })
  page.on('requestfailed', (req) => {
    const line = `requestfailed: ${req.method()} ${req.url().slice(0, 200)}: ${req.failure()?.errorText}`
    consoleLines.push(line)
    say(line)
  })

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
} finally {
  await browser?.close().catch(() => {})
}

// 5. The report.
report.console = consoleLines
report.runMs = Date.now() - started
console.log(`RESULT ${JSON.stringify(report)}`)
say(report.ok ? 'page reported success' : `page reported failure: ${report.error}`)
await stopBrowser()
say('chromium stopped')
process.exit(report.ok ? 0 : 1)
