// What the two demo pages share (bundled into each by demo/serve.mjs with esbuild): the settings
// served by demo/serve.mjs (/config.json), the token from the URL's fragment, the grant panel,
// the upload list with a progress bar per file, and the worker's error codes in words.

/** The page's settings: the worker's URL and the public part of its configuration. */
export async function loadConfig() {
  const res = await fetch('/config.json', { cache: 'no-store' })
  if (!res.ok) throw new Error(`/config.json: HTTP ${res.status}`)
  return res.json()
}

/**
 * The grant panel (`aside#grant-panel`): the token field, filled from the URL's fragment
 * (`#token=...`, which browsers never send to a server), and what the token grants (showGrant),
 * refreshed when the field changes and every 15 s (the expiry). Returns a function that gives
 * the current token.
 */
export function grantPanel(config) {
  const aside = document.querySelector('#grant-panel')
  aside.innerHTML =
    '<h2>Grant</h2><label for="token">Token (from the URL’s <code>#token=</code>, never sent to ' +
    'this page’s server)</label><input id="token" autocomplete="off" spellcheck="false" ' +
    'placeholder="eyJhbGciOi…"><dl id="grant"></dl>'
  const input = aside.querySelector('#token')
  const dl = aside.querySelector('#grant')
  input.value = new URLSearchParams(location.hash.slice(1)).get('token') ?? ''
  const token = () => input.value.trim()
  const refresh = () => {
    showGrant(dl, token(), config)
    // The links between the pages carry the token along, in their fragment too.
    for (const a of document.querySelectorAll('nav a')) {
      const page = a.getAttribute('href').split('#')[0]
      a.href = token() ? `${page}#${new URLSearchParams({ token: token() })}` : page
    }
  }
  refresh()
  input.addEventListener('input', refresh)
  setInterval(refresh, 15_000)
  return token
}

/** The token's claims, decoded in the page (not verified: that is the worker's job), or null. */
export function decodeClaims(token) {
  const part = token.split('.')[1]
  if (!part) return null
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=')
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
    const claims = JSON.parse(new TextDecoder().decode(bytes))
    return claims && typeof claims === 'object' ? claims : null
  } catch {
    return null
  }
}

const UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB']
/** 1048576 -> "1 MiB". */
export function bytes(n) {
  let v = Number(n)
  let u = 0
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024
    u += 1
  }
  return `${u === 0 ? v : Number(v.toFixed(1))} ${UNITS[u]}`
}

function duration(seconds) {
  const s = Math.abs(Math.round(seconds))
  if (s < 120) return `${s} s`
  if (s < 7200) return `${Math.round(s / 60)} min`
  return `${Math.round(s / 3600)} h`
}

/**
 * The keys a token may use: its `prefix` claim, else the key template's text up to its first
 * placeholder other than `{sub}` (what the worker does, README "Policy").
 */
export function grantedPrefix(claims, template) {
  if (typeof claims?.prefix === 'string') return claims.prefix
  const t = template || '{sub}/{uuid}/{filename}'
  let out = ''
  for (let rest = t; rest.length > 0; ) {
    if (rest.startsWith('{sub}')) {
      out += claims?.sub ?? '{sub}'
      rest = rest.slice(5)
    } else if (rest.startsWith('{')) {
      break
    } else {
      out += rest[0]
      rest = rest.slice(1)
    }
  }
  return out
}

/** The grant panel's rows: field, label. */
const GRANT_FIELDS = [
  ['token', 'Token'],
  ['sub', 'Subject'],
  ['prefix', 'Keys granted'],
  ['types', 'Types (token)'],
  ['max_size', 'Max size (token)'],
  ['exp', 'Expires'],
  ['worker_types', 'Types (worker)'],
  ['worker_max', 'Max size (worker)'],
  ['worker_ttl', 'URL lifetime'],
  ['worker_template', 'Key template'],
]

/**
 * Fills the grant panel's `<dl>` (its rows made on the first call): what the token says and
 * what the worker's configuration allows.
 */
function showGrant(panel, token, config) {
  if (!panel.querySelector('dd')) {
    for (const [field, label] of GRANT_FIELDS) {
      const dt = document.createElement('dt')
      dt.textContent = label
      const dd = document.createElement('dd')
      dd.dataset.field = field
      panel.append(dt, dd)
    }
  }
  const claims = token ? decodeClaims(token) : null
  const worker = config.worker ?? {}
  const set = (field, text, state = '') => {
    const dd = panel.querySelector(`[data-field="${field}"]`)
    if (dd) {
      dd.textContent = text
      dd.dataset.state = state
    }
  }
  const now = Date.now() / 1000
  if (!token) {
    set('token', 'no token: paste one above (make dev prints a link with one)', 'bad')
  } else if (!claims) {
    set('token', 'not a JWT (its payload cannot be decoded)', 'bad')
  } else {
    set('token', `${token.slice(0, 12)}… (decoded in this page; the worker verifies it)`)
  }
  set('sub', claims?.sub ?? '—')
  set('prefix', claims ? `${grantedPrefix(claims, worker.KEY_TEMPLATE)}…` : '—')
  const types = Array.isArray(claims?.content_types) ? claims.content_types.join(', ') : null
  set('types', types ?? (claims ? 'any the worker allows (no content_types claim)' : '—'))
  const max = typeof claims?.max_size === 'number' ? bytes(claims.max_size) : null
  set('max_size', max ?? (claims ? 'the worker’s maximum (no max_size claim)' : '—'))
  if (typeof claims?.exp === 'number') {
    const at = new Date(claims.exp * 1000).toLocaleString()
    const left = claims.exp - now
    set('exp', left > 0 ? `${at} (in ${duration(left)})` : `${at} (expired ${duration(left)} ago)`,
      left > 0 ? '' : 'bad')
  } else {
    set('exp', claims ? 'no exp claim' : '—')
  }
  set('worker_types', worker.ALLOWED_CONTENT_TYPES?.split(',').join(', ') ?? 'not shown')
  set('worker_max', worker.MAX_UPLOAD_SIZE ? bytes(worker.MAX_UPLOAD_SIZE) : 'not shown')
  set('worker_ttl', worker.URL_TTL ? `${worker.URL_TTL} s` : 'not shown')
  set('worker_template', worker.KEY_TEMPLATE ?? 'not shown')
  return claims
}

/**
 * A worker error in words. `err` is an Error whose message starts with the worker's error code
 * (`code: message`, as the README's Uppy glue throws, or just the code, as its fetch helper
 * does), or a failed fetch. `token` tells an expired token from another refused one when the
 * message does not.
 */
export function inWords(err, file = {}, token = '') {
  const text = String(err?.message ?? err)
  const m = /^([a-z_]+)(?::\s*([\s\S]*))?$/.exec(text)
  const code = m?.[1]
  const detail = m?.[2] ?? ''
  const type = file.type || 'this type'
  switch (code) {
    case 'content_type_not_allowed':
    case 'invalid_content_type':
      return `Type not allowed: the worker does not accept ${type} files.`
    case 'content_type_not_granted':
      return `Type not allowed: your token does not grant ${type} files.`
    case 'size_too_large':
      return `Too large: ${file.size != null ? bytes(file.size) : 'this file'} is more than the token or the worker allows.`
    case 'size_required':
      return 'The worker needs the file’s size to sign this upload.'
    case 'invalid_token':
      return /expired/i.test(detail) || decodeClaims(token)?.exp < Date.now() / 1000
        ? 'Token expired: get a new token (make dev prints one) and paste it above.'
        : `The worker refused the token (${detail || 'invalid'}).`
    case 'missing_token':
      return 'No token: paste one above.'
    case 'token_expiring':
      return 'Token about to expire: get a new token and paste it above.'
    case 'quota_exceeded':
      return `Quota exceeded: your upload budget is used up for now${detail ? ` (${detail})` : ''}.`
    case 'key_not_granted':
      return 'Not allowed: your token does not grant this key.'
    case 'origin_not_allowed':
      return 'This page’s origin is not in the worker’s CORS_ALLOWED_ORIGINS.'
    case 'invalid_filename':
      return 'The file name is not accepted (control characters, or empty).'
    case undefined:
      break
    default:
      return `The worker refused it: ${code}${detail ? ` (${detail})` : ''}.`
  }
  if (/Failed to fetch|NetworkError|Load failed/i.test(text)) {
    return 'Network error: the worker or the store could not be reached (or CORS refused it).'
  }
  return `Failed: ${text}`
}

/**
 * The upload list: one row per file with its name, a progress bar, and what happened. Each row
 * carries `data-state` (`waiting`, `uploading`, `done`, `error`) and, when done, `data-key`.
 */
export class UploadList {
  /** `list`: the `<ul>`; `token`: gives the current token (for inWords). */
  constructor(list, token) {
    this.list = list
    this.token = token
    this.rows = new Map()
  }

  row(id, file, how) {
    let row = this.rows.get(id)
    if (!row) {
      row = document.createElement('li')
      row.className = 'upload'
      row.innerHTML =
        '<div class="upload-head"><span class="upload-name"></span> <span class="upload-meta"></span></div>' +
        '<progress max="100" value="0"></progress> <span class="upload-percent">0 %</span>' +
        '<div class="upload-status"></div>'
      row.querySelector('.upload-name').textContent = file.name
      this.list.prepend(row)
      this.rows.set(id, row)
    }
    row.querySelector('.upload-meta').textContent = `${bytes(file.size)}, ${file.type || 'no type'}, ${how}`
    return row
  }

  progress(id, fraction) {
    const row = this.rows.get(id)
    if (!row) return
    const pct = Math.max(0, Math.min(100, Math.floor(fraction * 100)))
    row.querySelector('progress').value = pct
    row.querySelector('.upload-percent').textContent = `${pct} %`
    if (row.dataset.state !== 'done' && row.dataset.state !== 'error') this.state(id, 'uploading', 'uploading…')
  }

  state(id, state, text) {
    const row = this.rows.get(id)
    if (!row) return
    row.dataset.state = state
    const status = row.querySelector('.upload-status')
    status.textContent = text
    return status
  }

  /** Marks the file uploaded and adds a download link (signed by /v1/downloads). */
  done(id, key, download) {
    const row = this.rows.get(id)
    if (!row) return
    this.progress(id, 1)
    row.dataset.key = key
    const status = this.state(id, 'done', 'uploaded as ')
    const code = document.createElement('code')
    code.textContent = key
    const link = document.createElement('a')
    link.className = 'download'
    link.textContent = 'download'
    link.href = '#'
    // A URL signed on each click: the signed URLs live only URL_TTL seconds.
    link.addEventListener('click', async (event) => {
      event.preventDefault()
      try {
        location.assign(await download(key))
      } catch (err) {
        this.state(id, 'done', inWords(err, {}, this.token()))
      }
    })
    status.append(code, ' · ', link)
  }

  error(id, err, file) {
    this.state(id, 'error', inWords(err, file, this.token()))
  }
}

/** A download URL for `key` from the worker's /v1/downloads (the file's name as attachment). */
export async function downloadUrl(presign, token, key) {
  const res = await fetch(`${presign}/v1/downloads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ key, filename: key.split('/').pop() }),
  })
  const body = await res.json()
  if (!res.ok) throw new Error(`${body.error.code}: ${body.error.message}`)
  return body.url
}
