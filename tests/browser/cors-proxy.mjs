// A tiny CORS-adding reverse proxy for s3s-fs (which answers preflight OPTIONS with 501), used by
// tests/e2e_browser.rs. It plays the bucket CORS rule that the README asks for:
//
//   AllowedOrigins [ORIGIN], AllowedMethods GET PUT POST DELETE, AllowedHeaders content-type if-none-match,
//   ExposeHeaders ETag
//
// and is deliberately no more lenient, so the test proves that this rule is enough for Uppy.
//
// Preflights are answered here and never reach the store. Every other request is passed through
// unchanged: same method, same path and query (the raw request target), the same header lines
// (names, values and order, including `Host`, which SigV4 signs: the worker signs URLs for this
// proxy's address and s3s-fs verifies the signature over the Host header it receives, whatever
// address it listens on), and the body streamed byte for byte. Responses come back unchanged
// plus `Access-Control-Allow-Origin` and `Access-Control-Expose-Headers: ETag` for ORIGIN.
//
// One exception, for s3s-fs's sake: a CompleteMultipartUpload result gets the <Location> that S3
// returns and s3s-fs leaves out (see completeWithLocation).
//
// One line per request on stdout: `proxy METHOD TARGET -> STATUS` (`preflight ...` for OPTIONS).
//
//   node cors-proxy.mjs --port PORT --upstream http://127.0.0.1:S3PORT --origin http://127.0.0.1:PAGEPORT

import http from 'node:http'
import { parseArgs } from 'node:util'

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string' },
    upstream: { type: 'string' },
    origin: { type: 'string' },
  },
})
for (const name of ['port', 'upstream', 'origin']) {
  if (!opts[name]) {
    console.error(`cors-proxy: --${name} is required`)
    process.exit(2)
  }
}
const upstream = new URL(opts.upstream)
const ORIGIN = opts.origin
const ALLOWED_METHODS = ['GET', 'PUT', 'POST', 'DELETE']
const ALLOWED_HEADERS = ['content-type', 'if-none-match']
const EXPOSED_HEADERS = 'ETag'
const MAX_AGE = '3600'

const log = (line) => process.stdout.write(`${line}\n`)

function preflight(req, res) {
  const origin = req.headers.origin
  const method = req.headers['access-control-request-method']
  const asked = (req.headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean)
  const refused = asked.filter((h) => !ALLOWED_HEADERS.includes(h))
  const ok = origin === ORIGIN && ALLOWED_METHODS.includes(method) && refused.length === 0
  log(
    `preflight ${method} ${req.url} origin=${origin} headers=[${asked.join(',')}] -> ` +
      (ok ? '204' : `403 (refused: ${origin !== ORIGIN ? 'origin ' : ''}` +
        `${ALLOWED_METHODS.includes(method) ? '' : 'method '}${refused.join(',')})`),
  )
  if (!ok) {
    // What S3 does: 403 without CORS headers, so the browser blocks the request.
    res.writeHead(403, { 'content-type': 'text/plain', vary: 'Origin' })
    res.end('CORS preflight refused\n')
    return
  }
  res.writeHead(204, {
    'access-control-allow-origin': ORIGIN,
    'access-control-allow-methods': ALLOWED_METHODS.join(', '),
    'access-control-allow-headers': ALLOWED_HEADERS.join(', '),
    'access-control-expose-headers': EXPOSED_HEADERS,
    'access-control-max-age': MAX_AGE,
    vary: 'Origin',
  })
  res.end()
}

function forward(req, res) {
  // Raw header lines as received (array form keeps names, values, order and duplicates).
  const up = http.request({
    host: upstream.hostname,
    port: upstream.port,
    method: req.method,
    path: req.url,
    headers: req.rawHeaders,
    setHost: false,
  })
  up.on('response', (upRes) => {
    if (res.headersSent) {
      // Already answered 502 (the store closed the connection while the body was being sent).
      log(`proxy ${req.method} ${req.url} -> ${upRes.statusCode} (after a 502, dropped)`)
      upRes.resume()
      return
    }
    const cors = (headers) => {
      if (req.headers.origin === ORIGIN) {
        headers.push('Access-Control-Allow-Origin', ORIGIN)
        headers.push('Access-Control-Expose-Headers', EXPOSED_HEADERS)
      }
      headers.push('Vary', 'Origin')
      return headers
    }
    const query = new URLSearchParams(req.url.split('?')[1] ?? '')
    if (req.method === 'POST' && query.has('uploadId') && upRes.statusCode === 200) {
      completeWithLocation(req, upRes, res, cors)
      return
    }
    log(`proxy ${req.method} ${req.url} -> ${upRes.statusCode}`)
    res.writeHead(upRes.statusCode, upRes.statusMessage, cors([...upRes.rawHeaders]))
    upRes.pipe(res)
  })
  up.on('error', (err) => {
    log(`proxy ${req.method} ${req.url} -> 502 (${err.message})`)
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' })
    }
    res.end(`cors-proxy: upstream error: ${err.message}\n`)
  })
  req.pipe(up)
}

// CompleteMultipartUpload: S3 (and MinIO, Ceph, ...) answer a CompleteMultipartUploadResult with
// Location, Bucket, Key and ETag; s3s-fs 0.14 leaves out Location, and Uppy 6's S3 client refuses
// a result without it ("CompleteMultipartUpload response missing Location or Key"). So this proxy
// plays S3 there too: it adds <Location> (the object's URL, as S3 does) when it is missing, and
// says so in its log. Nothing else of any response is changed.
function completeWithLocation(req, upRes, res, cors) {
  const chunks = []
  upRes.on('data', (c) => chunks.push(c))
  upRes.on('error', (err) => {
    log(`proxy ${req.method} ${req.url} -> 502 (${err.message})`)
    res.destroy(err)
  })
  upRes.on('end', () => {
    let body = Buffer.concat(chunks).toString('utf8')
    let note = ''
    const open = /<CompleteMultipartUploadResult[^>]*>/.exec(body)
    if (open && !body.includes('<Location>')) {
      const location = `http://${req.headers.host}${req.url.split('?')[0]}`
      const at = open.index + open[0].length
      body = `${body.slice(0, at)}<Location>${location}</Location>${body.slice(at)}`
      note = ' (added <Location>)'
    }
    log(`proxy ${req.method} ${req.url} -> ${upRes.statusCode}${note}`)
    const headers = []
    for (let i = 0; i < upRes.rawHeaders.length; i += 2) {
      const name = upRes.rawHeaders[i].toLowerCase()
      if (name !== 'content-length' && name !== 'transfer-encoding') {
        headers.push(upRes.rawHeaders[i], upRes.rawHeaders[i + 1])
      }
    }
    const bytes = Buffer.from(body, 'utf8')
    headers.push('Content-Length', String(bytes.length))
    res.writeHead(upRes.statusCode, upRes.statusMessage, cors(headers))
    res.end(bytes)
  })
}

const server = http.createServer((req, res) => {
  if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
    preflight(req, res)
  } else {
    forward(req, res)
  }
})
// Bodies of 5+ MiB parts over a slow loopback must not hit Node's default request timeout.
server.requestTimeout = 0
server.listen(Number(opts.port), '127.0.0.1', () => {
  log(`cors-proxy listening on http://127.0.0.1:${opts.port} -> ${opts.upstream} for ${ORIGIN}`)
})
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0))
}
