// The plain-`fetch` page of the demo (demo/fetch.html; no Uppy): the README's snippet made
// runnable. `sign` and `send` are the README's text (tests/e2e/e2e_demo.rs checks it); around
// them, a single PUT for files up to 16 MiB and, above, a multipart upload whose parts go up
// PARALLEL at a time. fetch() reports no upload progress, so the bar counts the bytes of the
// requests that have finished (per part for multipart).

import { UploadList, downloadUrl, grantPanel, loadConfig } from './common.js'

const config = await loadConfig()
const PRESIGN = config.presign
const currentToken = grantPanel(config)
let token = currentToken() // the README's helpers read `token`
document.querySelector('#token').addEventListener('input', () => {
  token = currentToken()
})

// --- The README's plain-fetch helpers (README.md, "POST /v1/sign"), unchanged. ---------------
async function sign(req) {
  const res = await fetch(`${PRESIGN}/v1/sign`, { method: 'POST', body: JSON.stringify(req),
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } })
  if (!res.ok) throw new Error((await res.json()).error.code)
  return res.json()
}
const send = (g, body) => fetch(g.url, { method: g.method, headers: g.headers, body })
// ---------------------------------------------------------------------------------------------

const MULTIPART_OVER = 16 * 1024 * 1024
const PART = 8 * 1024 * 1024
const PARALLEL = 4

/**
 * A store answer that is not 2xx, as an Error (S3's XML error code when there is one); a 2xx
 * one is returned with its body read (a body left unread is aborted when collected).
 */
async function checked(res, keepBody = false) {
  if (res.ok) {
    if (!keepBody) await res.arrayBuffer()
    return res
  }
  const text = await res.text()
  // The store's XML error, or the worker's JSON one (the create and complete requests).
  const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? /"code":"([^"]+)"/.exec(text)?.[1] ?? `HTTP ${res.status}`
  throw new Error(`the store refused it: ${code}`)
}

/** One PUT of the whole file (PutObject: the worker signs its type and exact size). */
async function single(file, progress) {
  const g = await sign({ method: 'PUT', key: file.name, contentType: file.type, size: file.size })
  await checked(await send(g, file))
  progress(file.size)
  return g.key
}

/**
 * CreateMultipartUpload, the parts PARALLEL at a time, CompleteMultipartUpload. The worker runs
 * the create and complete requests at the store itself: it completes the upload only when the
 * parts add up to exactly `size`, so it needs no part list from us.
 */
async function multipart(file, progress) {
  const create = await sign({ method: 'POST', key: file.name, size: file.size, partSize: PART })
  const xml = await (await checked(await send(create), true)).text()
  const uploadId = new DOMParser().parseFromString(xml, 'application/xml')
    .querySelector('UploadId').textContent
  const key = create.key
  const count = Math.ceil(file.size / PART)
  let next = 0
  let sent = 0
  async function worker() {
    while (next < count) {
      const n = ++next
      const blob = file.slice((n - 1) * PART, n * PART)
      const g = await sign({ method: 'PUT', key, uploadId, partNumber: n, size: blob.size })
      await checked(await send(g, blob))
      sent += blob.size
      progress(sent)
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(PARALLEL, count) }, worker))
    await checked(await send(await sign({ method: 'POST', key, uploadId })))
  } catch (err) {
    // Leave no parts behind in the bucket.
    await sign({ method: 'DELETE', key, uploadId }).then((g) => send(g)).catch(() => {})
    throw err
  }
  return key
}

const list = new UploadList(document.querySelector('#uploads'), currentToken)
let nextId = 0
async function upload(file) {
  const id = `f${++nextId}`
  const big = file.size > MULTIPART_OVER
  list.row(id, file, big ? `multipart, ${PARALLEL} parts at a time` : 'single PUT')
  list.state(id, 'uploading', 'uploading…')
  try {
    const key = await (big ? multipart : single)(file, (n) => list.progress(id, n / file.size))
    list.done(id, key, async (k) => downloadUrl(PRESIGN, token, k))
  } catch (err) {
    list.error(id, err, file)
  }
}

const input = document.querySelector('#files')
input.addEventListener('change', () => {
  for (const file of input.files) upload(file)
  input.value = ''
})
const zone = document.querySelector('#drop')
zone.addEventListener('dragover', (e) => {
  e.preventDefault()
  zone.classList.add('over')
})
zone.addEventListener('dragleave', () => zone.classList.remove('over'))
zone.addEventListener('drop', (e) => {
  e.preventDefault()
  zone.classList.remove('over')
  for (const file of e.dataTransfer.files) upload(file)
})
