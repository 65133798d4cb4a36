// The demo pages' server, started by `make dev` (scripts/dev.sh) and by tests/e2e/e2e_demo.rs:
//
//   1. bundles demo/uppy.js (real Uppy 6 from demo/node_modules, its CSS included) and
//      demo/fetch.js with esbuild, in memory, once at start: nothing comes from a CDN;
//   2. serves on http://127.0.0.1:PORT (an origin in the worker's CORS_ALLOWED_ORIGINS):
//        /  /index.html   the Uppy 6 Dashboard page      /uppy.js /uppy.css
//        /fetch.html      the plain-fetch page           /fetch.js
//        /demo.css        the pages' styles
//        /config.json     {"presign": WORKER_URL, "worker": {...}}: the worker's URL and the
//                         public settings of its [vars] (NAMES below; never a secret: those live
//                         in .dev.vars, which this server does not read);
//   3. prints `demo listening on http://127.0.0.1:PORT` once it listens, and one line per
//      request that is not answered 200 (the token is in the URL's fragment, which browsers do
//      not send, so it never reaches this log).
//
//   node demo/serve.mjs --port 8080 --presign http://127.0.0.1:8787
//                       [--config wrangler.toml] [--var NAME=VALUE ...]
//
// --config is the wrangler.toml whose top-level [vars] are shown (default: the repository's);
// --var overrides one of them (as `wrangler dev --var` does for the worker).

import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import * as esbuild from 'esbuild'

const HERE = path.dirname(fileURLToPath(import.meta.url))
/** The settings the pages may show: policy, not credentials. */
const NAMES = ['ALLOWED_CONTENT_TYPES', 'MAX_UPLOAD_SIZE', 'URL_TTL', 'KEY_TEMPLATE']

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string' },
    presign: { type: 'string' },
    config: { type: 'string', default: path.join(HERE, '..', 'wrangler.toml') },
    var: { type: 'string', multiple: true, default: [] },
  },
})
for (const name of ['port', 'presign']) {
  if (!opts[name]) {
    console.error(`serve.mjs: --${name} is required`)
    process.exit(2)
  }
}

/** NAME = "value" lines of the top-level [vars] table (wrangler.toml keeps them quoted strings). */
function vars(file) {
  const out = {}
  let inVars = false
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const table = /^\s*\[([^\]]*)\]/.exec(line)
    if (table) {
      inVars = table[1].trim() === 'vars'
    } else if (inVars) {
      const m = /^\s*([A-Z0-9_]+)\s*=\s*"((?:[^"\\]|\\.)*)"/.exec(line)
      if (m) out[m[1]] = m[2]
    }
  }
  return out
}
const all = vars(opts.config)
for (const v of opts.var) {
  const at = v.indexOf('=')
  if (at < 1) {
    console.error(`serve.mjs: --var ${v}: expected NAME=VALUE`)
    process.exit(2)
  }
  all[v.slice(0, at)] = v.slice(at + 1)
}
const worker = Object.fromEntries(NAMES.filter((n) => n in all).map((n) => [n, all[n]]))
const config = JSON.stringify({ presign: opts.presign.replace(/\/+$/, ''), worker })

const built = await esbuild.build({
  entryPoints: { uppy: path.join(HERE, 'uppy.js'), fetch: path.join(HERE, 'fetch.js') },
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  outdir: '/bundle',
  write: false,
  logLevel: 'warning',
})
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' }
const routes = new Map()
const route = (name, body) => routes.set(name, { body, type: `${TYPES[path.extname(name)]}; charset=utf-8` })
for (const f of built.outputFiles) route(`/${path.basename(f.path)}`, f.contents)
for (const f of ['index.html', 'fetch.html', 'demo.css']) route(`/${f}`, fs.readFileSync(path.join(HERE, f)))
routes.set('/', routes.get('/index.html'))
route('/config.json', config)

const server = http.createServer((req, res) => {
  const { pathname } = new URL(req.url, 'http://x')
  const found = routes.get(pathname)
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' })
    res.end('method not allowed\n')
  } else if (found) {
    res.writeHead(200, { 'content-type': found.type, 'cache-control': 'no-store' })
    res.end(req.method === 'HEAD' ? undefined : found.body)
    return
  } else if (pathname === '/favicon.ico') {
    res.writeHead(204)
    res.end()
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' })
    res.end('not found\n')
  }
  console.log(`demo ${req.method} ${pathname} -> ${res.statusCode}`)
})
server.listen(Number(opts.port), '127.0.0.1', () => {
  console.log(`demo listening on http://127.0.0.1:${opts.port} (worker ${opts.presign})`)
})
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0))
}
