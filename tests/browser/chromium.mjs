// Headless Chromium for the browser tests (run.mjs, demo.mjs): Debian's /usr/bin/chromium started
// here, in this process's group (so the test's group kill ends it too; playwright would put it in
// a group of its own), with a fresh profile, and driven by playwright-core over CDP.

import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { chromium } from 'playwright-core'

const running = (p) => p && p.exitCode === null && p.signalCode === null

/**
 * Starts Chromium and opens one page in a new context. The profile lives in `profileDir` (its
 * owner removes it, after this process group is gone) or in a temporary directory removed by
 * close(). Every console message, page error and failed request is logged with `say` and kept
 * in `consoleLines`. SIGTERM/SIGINT kill the browser and exit 1.
 *
 * Returns { browser, context, page, consoleLines, close }, close() ending the browser (SIGTERM,
 * at most 5 s, then SIGKILL).
 */
export async function openBrowser({ executable, profileDir, say, contextOptions = {} }) {
  let ownedProfileDir = null
  if (profileDir) {
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
  const proc = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  // Synchronous, for signals: whatever is left of the browser is killed.
  const kill = () => {
    if (running(proc)) proc.kill('SIGKILL')
    if (ownedProfileDir) fs.rmSync(ownedProfileDir, { recursive: true, force: true, maxRetries: 5 })
  }
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
      kill()
      process.exit(1)
    })
  }
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
    proc.stdout.on('data', onData)
    proc.stderr.on('data', onData)
    proc.once('error', (e) => {
      clearTimeout(timer)
      reject(new Error(`cannot start ${executable}: ${e.message} (scripts/setup.sh --browser installs it)`))
    })
    proc.once('exit', (code, sig) => {
      clearTimeout(timer)
      reject(new Error(`chromium exited (${code ?? sig}) before listening:\n${chromiumLog}`))
    })
  }).catch((e) => {
    kill()
    throw e
  })
  say(`chromium pid ${proc.pid} at ${wsEndpoint}`)

  const close = async () => {
    await browser?.close().catch(() => {})
    if (running(proc)) {
      const exited = new Promise((resolve) => proc.once('exit', resolve))
      proc.kill('SIGTERM')
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(t)
    }
    kill()
  }
  let browser
  try {
    browser = await chromium.connectOverCDP(wsEndpoint, { timeout: 30_000 })
    say(`connected to Chromium ${browser.version()}`)
    const context = await browser.newContext(contextOptions)
    const page = await context.newPage()
    const consoleLines = []
    const note = (line) => {
      consoleLines.push(line)
      say(line)
    }
    page.on('console', (msg) => note(`console.${msg.type()}: ${msg.text()}`))
    page.on('pageerror', (err) => note(`pageerror: ${err.stack ?? err}`))
    page.on('requestfailed', (req) =>
      note(`requestfailed: ${req.method()} ${req.url().slice(0, 200)}: ${req.failure()?.errorText}`))
    return { browser, context, page, consoleLines, close }
  } catch (e) {
    await close()
    throw e
  }
}
