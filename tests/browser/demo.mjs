// The browser half of tests/e2e/e2e_demo.rs: drives the demo pages that demo/serve.mjs serves
// (as `make dev` does) in headless Chromium (tests/browser/chromium.mjs), as a user would.
//
//   1. opens ORIGIN/#token=JWT (the link `make dev` prints) and waits for the grant panel;
//      screenshot `rest.png`;
//   2. drops the 1 MiB and the 20 MiB file of --fixtures on the Uppy Dashboard (a real `drop`
//      event with a DataTransfer of File objects whose bytes are the fixture files, fetched by
//      the page from a loopback server of this script: the demo's server knows nothing of them)
//      and clicks Upload;
//      screenshot `mid.png` while a bar is between 0 and 100 %, `done.png` when both are done;
//   3. downloads each file through its row's link (a real browser download) into --out;
//   4. drops a file of a type the worker does not accept and reads the row's words;
//      screenshot `refused.png`;
//   5. opens ORIGIN/fetch.html#token=JWT and drops both files there (single PUT + multipart
//      with parallel parts); screenshot `fetch.png`; then, as a user pasting other tokens,
//      drops `late.png` with --expired-token and `huge.png` with --small-token (a max_size
//      smaller than the file) and reads the rows' words;
//   6. prints `RESULT <json>`: every row of both pages (name, state, progress, key, words) and
//      the downloaded files; exit 0 when it got that far, 1 otherwise.
//
//   node demo.mjs --origin http://127.0.0.1:P --token JWT --expired-token JWT --small-token JWT
//                 --fixtures DIR --out DIR --shots DIR
//                 [--timeout-ms 150000] [--chromium /usr/bin/chromium] [--profile-dir DIR]
//
// The fixtures: `photo.png` (1 MiB), `big video.bin` (20 MiB), `page.html` (refused type),
// `late.png` and `huge.png` (small PNGs for the two other tokens).

import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { openBrowser } from './chromium.mjs'

const { values: opts } = parseArgs({
  options: {
    origin: { type: 'string' },
    token: { type: 'string' },
    'expired-token': { type: 'string' },
    'small-token': { type: 'string' },
    fixtures: { type: 'string' },
    out: { type: 'string' },
    shots: { type: 'string' },
    'timeout-ms': { type: 'string', default: '150000' },
    chromium: { type: 'string', default: process.env.CHROMIUM_BIN || '/usr/bin/chromium' },
    'profile-dir': { type: 'string' },
  },
})
for (const name of ['origin', 'token', 'expired-token', 'small-token', 'fixtures', 'out', 'shots']) {
  if (!opts[name]) {
    console.error(`demo.mjs: --${name} is required`)
    process.exit(2)
  }
}
const started = Date.now()
const deadline = started + Number(opts['timeout-ms'])
const left = () => Math.max(1000, deadline - Date.now())
const say = (msg) => console.error(`[demo ${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`)

const FILES = {
  small: { name: 'photo.png', type: 'image/png' },
  big: { name: 'big video.bin', type: 'application/octet-stream' },
  refused: { name: 'page.html', type: 'text/html' },
  late: { name: 'late.png', type: 'image/png' },
  huge: { name: 'huge.png', type: 'image/png' },
}
const fragment = `#${new URLSearchParams({ token: opts.token })}`

// The fixture files, for the page to fetch (cross-origin, hence the CORS header).
const fixtureServer = http.createServer((req, res) => {
  const name = path.basename(decodeURIComponent(new URL(req.url, 'http://x').pathname))
  const file = path.join(opts.fixtures, name)
  const cors = { 'access-control-allow-origin': '*' }
  if (!name || !fs.existsSync(file)) {
    res.writeHead(404, cors)
    res.end()
    return
  }
  res.writeHead(200, { ...cors, 'content-type': 'application/octet-stream' })
  fs.createReadStream(file).pipe(res)
})
await new Promise((resolve) => fixtureServer.listen(0, '127.0.0.1', resolve))
const FIXTURES = `http://127.0.0.1:${fixtureServer.address().port}`

/** Drops `files` on `selector`: dragenter, dragover, drop with one DataTransfer, as a user's drop. */
async function drop(page, selector, files) {
  await page.evaluate(
    async ({ selector, files, fixtures }) => {
      const dt = new DataTransfer()
      for (const f of files) {
        const blob = await (await fetch(`${fixtures}/${encodeURIComponent(f.name)}`)).blob()
        dt.items.add(new File([blob], f.name, { type: f.type }))
      }
      const target = document.querySelector(selector)
      for (const type of ['dragenter', 'dragover', 'drop']) {
        target.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }))
      }
    },
    { selector, files, fixtures: FIXTURES },
  )
  say(`dropped ${files.map((f) => f.name).join(', ')} on ${selector}`)
}

/** The upload list's rows, as the page shows them. */
const rows = (page) =>
  page.$$eval('#uploads li', (lis) =>
    lis.map((li) => ({
      name: li.querySelector('.upload-name').textContent,
      state: li.dataset.state ?? null,
      progress: li.querySelector('progress').value,
      key: li.dataset.key ?? null,
      words: li.querySelector('.upload-status').textContent,
    })))

/** Waits until the rows named `names` are all done or failed. */
async function settled(page, names) {
  await page.waitForFunction(
    (names) => names.every((n) =>
      [...document.querySelectorAll('#uploads li')].some((li) =>
        li.querySelector('.upload-name').textContent === n &&
        (li.dataset.state === 'done' || li.dataset.state === 'error'))),
    names,
    { timeout: left(), polling: 100 },
  )
}

const shot = async (page, name) => {
  const file = path.join(opts.shots, name)
  await page.screenshot({ path: file, fullPage: true })
  say(`screenshot ${file}`)
  return file
}

let opened
let report = { ok: false }
try {
  fs.mkdirSync(opts.shots, { recursive: true })
  fs.mkdirSync(opts.out, { recursive: true })
  opened = await openBrowser({
    executable: opts.chromium,
    profileDir: opts['profile-dir'],
    say,
    contextOptions: { viewport: { width: 1180, height: 820 }, acceptDownloads: true },
  })
  const { page } = opened
  const shots = {}

  // 1. At rest.
  await page.goto(`${opts.origin}/${fragment}`, { waitUntil: 'load', timeout: 30_000 })
  await page.waitForSelector('.uppy-Dashboard-inner', { timeout: left() })
  await page.waitForFunction(() => document.querySelector('#grant [data-field="sub"]')?.textContent
    && document.querySelector('#grant [data-field="sub"]').textContent !== '—', null, { timeout: left() })
  const grant = await page.$$eval('#grant dd', (dds) =>
    Object.fromEntries(dds.map((dd) => [dd.dataset.field, dd.textContent])))
  shots.rest = await shot(page, 'rest.png')

  // 2. Two files dropped, uploaded.
  await drop(page, '.uppy-Dashboard-inner', [FILES.small, FILES.big])
  await page.waitForFunction(() => document.querySelectorAll('#uploads li[data-state="waiting"]').length === 2,
    null, { timeout: left() })
  await page.click('.uppy-StatusBar-actionBtn--upload', { timeout: left() })
  say('clicked Upload')
  let midProgress = null
  try {
    await page.waitForFunction(() => [...document.querySelectorAll('#uploads progress')]
      .some((p) => p.value > 0 && p.value < 100), null, { timeout: Math.min(left(), 30_000), polling: 'raf' })
    shots.mid = await shot(page, 'mid.png')
    midProgress = (await rows(page)).map((r) => r.progress)
  } catch (e) {
    say(`no screenshot mid-upload: ${e.message}`)
  }
  await settled(page, [FILES.small.name, FILES.big.name])
  const uploaded = await rows(page)
  shots.done = await shot(page, 'done.png')

  // 3. Each file back through its link.
  const downloads = []
  for (const r of uploaded.filter((r) => r.state === 'done')) {
    const link = page.locator('#uploads li', { hasText: r.name }).locator('a.download')
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: left() }), link.click()])
    const file = path.join(opts.out, r.name)
    await download.saveAs(file)
    downloads.push({ name: r.name, suggested: download.suggestedFilename(), url: download.url(), file })
    say(`downloaded ${r.name} as ${download.suggestedFilename()}`)
  }

  // 4. A type the worker refuses.
  await drop(page, '.uppy-Dashboard-inner', [FILES.refused])
  await page.waitForFunction((n) => [...document.querySelectorAll('#uploads li[data-state="waiting"]')]
    .some((li) => li.querySelector('.upload-name').textContent === n), FILES.refused.name, { timeout: left() })
  await page.click('.uppy-StatusBar-actionBtn--upload', { timeout: left() })
  await settled(page, [FILES.refused.name])
  const refused = (await rows(page)).find((r) => r.name === FILES.refused.name)
  shots.refused = await shot(page, 'refused.png')

  // 5. The plain-fetch page.
  await page.goto(`${opts.origin}/fetch.html${fragment}`, { waitUntil: 'load', timeout: 30_000 })
  await page.waitForFunction(() => document.querySelector('#grant [data-field="sub"]')?.textContent?.length > 1,
    null, { timeout: left() })
  await drop(page, '#drop', [FILES.small, FILES.big])
  await settled(page, [FILES.small.name, FILES.big.name])
  const fetched = await rows(page)
  shots.fetch = await shot(page, 'fetch.png')
  const otherTokens = {}
  for (const [which, file] of [['expired-token', FILES.late], ['small-token', FILES.huge]]) {
    await page.fill('#token', opts[which])
    await drop(page, '#drop', [file])
    await settled(page, [file.name])
    otherTokens[which] = (await rows(page)).find((r) => r.name === file.name)
  }
  shots.tokens = await shot(page, 'tokens.png')

  report = { ok: true, grant, uploaded, midProgress, downloads, refused, fetched, otherTokens, shots }
} catch (e) {
  report = { ok: false, error: `${e.stack ?? e}` }
  if (opened) report.rows = await rows(opened.page).catch(() => null)
}
report.console = opened?.consoleLines ?? []
report.runMs = Date.now() - started
console.log(`RESULT ${JSON.stringify(report)}`)
await opened?.close()
fixtureServer.close()
process.exit(report.ok ? 0 : 1)
