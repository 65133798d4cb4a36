// The test page of tests/e2e_browser.rs (bundled for the browser by run.mjs with esbuild).
//
// Real Uppy 6 (@uppy/core + @uppy/aws-s3 from npm) with the README's `signRequest` glue, as
// written there but for PRESIGN and getToken(), which come from the page's query string
// (`?presign=http://127.0.0.1:PORT&token=JWT`). It uploads two files made of random bytes in the
// page: 20 MiB as a multipart upload (5 MiB parts) and 1 MiB as a single PUT, and reports in
// `window.__presignTest` the key, size and SHA-256 (crypto.subtle) of each file, or the error.

import Uppy from '@uppy/core'
import AwsS3 from '@uppy/aws-s3'

const params = new URLSearchParams(location.search)
const PRESIGN = params.get('presign') // the worker
const getToken = async () => params.get('token')

const MiB = 1024 * 1024
const FILES = [
  { name: 'big file ü.bin', type: 'application/octet-stream', size: 20 * MiB, multipart: true },
  { name: 'small photo.png', type: 'image/png', size: 1 * MiB, multipart: false },
]

const log = (...args) => console.log('[page]', ...args)
const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('')

function randomBytes(n) {
  const bytes = new Uint8Array(n)
  // getRandomValues fills at most 65536 bytes per call.
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(bytes.subarray(off, Math.min(n, off + 65536)))
  }
  return bytes
}

// --- The README's Uppy 6 glue (README.md, "POST /v1/sign"), unchanged. ---------------------
const sizes = new Map() // file name -> size: Uppy gives signRequest no file, the worker needs it
const uppy = new Uppy().use(AwsS3, {
  shouldUseMultipart: (file) => file.size > 16 * 1024 * 1024,
  // The worker makes the real key ({sub}/{uuid}/{filename}); send it just the file name.
  generateObjectKey: (file) => (sizes.set(file.name, file.size), file.name),
  async signRequest(request) {
    const size = request.uploadId == null ? sizes.get(request.key) : undefined
    const res = await fetch(`${PRESIGN}/v1/sign`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await getToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...request, size }),
    })
    const body = await res.json()
    if (!res.ok) throw new Error(`${body.error.code}: ${body.error.message}`)
    return body
  },
})
// --------------------------------------------------------------------------------------------

// What the test checks besides the bytes: which requests Uppy asked the worker to sign.
const signed = []
const origFetch = window.fetch
window.fetch = async (url, init) => {
  if (String(url).endsWith('/v1/sign')) {
    const req = JSON.parse(init.body)
    signed.push({ method: req.method, uploadId: req.uploadId != null, partNumber: req.partNumber ?? null })
  }
  return origFetch(url, init)
}

async function main() {
  if (!PRESIGN || !params.get('token')) throw new Error('the page needs ?presign=...&token=...')
  const expected = {}
  for (const f of FILES) {
    const bytes = randomBytes(f.size)
    const sha256 = hex(await crypto.subtle.digest('SHA-256', bytes))
    const id = uppy.addFile({ name: f.name, type: f.type, data: new Blob([bytes], { type: f.type }) })
    expected[id] = { name: f.name, type: f.type, size: f.size, multipart: f.multipart, sha256 }
    log(`added ${f.name}: ${f.size} bytes, sha256 ${sha256}`)
  }
  const keys = {}
  uppy.on('upload-success', (file, response) => {
    keys[file.id] = response.body.key
    log(`upload-success ${file.name}: key ${response.body.key}, location ${response.uploadURL}`)
  })
  uppy.on('upload-error', (file, error) => log(`upload-error ${file?.name}: ${error?.message}`))
  uppy.on('s3-multipart:part-uploaded', (file, part) =>
    log(`part ${part.PartNumber} of ${file.name} uploaded, ETag ${part.ETag}`))

  const t0 = performance.now()
  const result = await uppy.upload()
  const ms = Math.round(performance.now() - t0)
  const failed = (result?.failed ?? []).map((f) => `${f.name}: ${f.error}`)
  if (failed.length > 0 || (result?.successful ?? []).length !== FILES.length) {
    throw new Error(`Uppy: ${result?.successful?.length ?? 0} uploaded, failed: ${failed.join('; ') || 'none'}`)
  }
  log(`uploaded ${FILES.length} files in ${ms} ms`)
  const cancelled = await cancelOne()
  return {
    uploadMs: ms,
    signed,
    cancelled,
    files: Object.entries(expected).map(([id, f]) => ({ ...f, key: keys[id] ?? null })),
  }
}

// Uppy sends the requests to the worker's own URLs (create, complete, abort) with
// XMLHttpRequest: the page notes each one's end, so that it waits for the abort to be answered
// before it reports (the browser is closed once it has).
const workerAnswered = []
const origOpen = XMLHttpRequest.prototype.open
XMLHttpRequest.prototype.open = function (method, url, ...rest) {
  if (String(url).includes('/v1/multipart/')) {
    this.addEventListener('loadend', () => workerAnswered.push({ method, status: this.status }))
  }
  return origOpen.call(this, method, url, ...rest)
}

// A multipart upload removed once its first part is in: Uppy aborts it (AbortMultipartUpload,
// a DELETE to the worker's URL, cross-origin). Reports whether the abort was signed.
async function cancelOne() {
  const id = uppy.addFile({
    name: 'cancelled.bin',
    type: 'application/octet-stream',
    data: new Blob([randomBytes(20 * MiB)], { type: 'application/octet-stream' }),
  })
  const firstPart = new Promise((resolve) => {
    uppy.on('s3-multipart:part-uploaded', (file) => {
      if (file?.id === id) resolve()
    })
  })
  const uploading = uppy.upload().catch((e) => log(`upload after removal: ${e}`))
  await firstPart
  uppy.removeFile(id)
  await uploading
  const t0 = performance.now()
  const abortSigned = () => signed.some((s) => s.method === 'DELETE' && s.uploadId)
  const abortAnswered = () => workerAnswered.find((a) => a.method === 'DELETE')
  while (!(abortSigned() && abortAnswered()) && performance.now() - t0 < 10000) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  log(`cancelled.bin removed; abort signed: ${abortSigned()}, answered: ${abortAnswered()?.status}`)
  return { name: 'cancelled.bin', abortSigned: abortSigned() }
}

main().then(
  (res) => {
    window.__presignTest = { done: true, ok: true, ...res }
  },
  (err) => {
    console.error('[page] failed:', err)
    window.__presignTest = { done: true, ok: false, error: String(err?.stack ?? err), signed }
  },
)
