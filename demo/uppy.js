// The Uppy page of the demo (demo/index.html, served by demo/serve.mjs, which bundles this file
// with esbuild): the real Uppy 6 Dashboard (@uppy/core, @uppy/dashboard, @uppy/aws-s3 from npm)
// with the README's `signRequest` glue, as written there (tests/e2e/e2e_demo.rs checks that the
// text is the same) but for PRESIGN and getToken(): the worker's URL comes from /config.json,
// the token from the URL's fragment or the token field.
//
// Around the glue: the grant panel (the token's claims and the worker's public settings), and a
// list with a progress bar per file, the refusals in words, and a download link once uploaded.

import Uppy from '@uppy/core'
import Dashboard from '@uppy/dashboard'
import AwsS3 from '@uppy/aws-s3'
import '@uppy/core/css/style.min.css'
import '@uppy/dashboard/css/style.min.css'
import { UploadList, downloadUrl, grantPanel, loadConfig } from './common.js'

const config = await loadConfig()
const PRESIGN = config.presign // the worker
const currentToken = grantPanel(config)
const getToken = async () => currentToken()

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

uppy.use(Dashboard, {
  target: '#dashboard',
  inline: true,
  width: '100%',
  height: 380,
  proudlyDisplayPoweredByUppy: false,
  note: `Multipart over 16 MiB. The worker accepts ${config.worker?.ALLOWED_CONTENT_TYPES ?? 'the types it is configured for'}.`,
})

const list = new UploadList(document.querySelector('#uploads'), currentToken)
const multipart = (file) => file.size > 16 * 1024 * 1024
uppy.on('file-added', (file) => {
  list.row(file.id, file, multipart(file) ? 'multipart' : 'single PUT')
  list.state(file.id, 'waiting', 'waiting for “Upload”')
})
uppy.on('file-removed', (file) => list.rows.get(file.id)?.remove())
uppy.on('upload-progress', (file, progress) => {
  if (progress.bytesTotal) list.progress(file.id, progress.bytesUploaded / progress.bytesTotal)
})
uppy.on('upload-success', (file, response) => {
  list.done(file.id, response.body?.key, async (k) => downloadUrl(PRESIGN, currentToken(), k))
})
uppy.on('upload-error', (file, error) => {
  if (file) list.error(file.id, error, file)
})

window.uppy = uppy
