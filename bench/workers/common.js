// What both JavaScript baselines share: the same job as presign-worker's POST /v1/uploads,
// written the way a careful Workers developer would (per-isolate state built once, the JWT
// key imported once), with only the signing library differing between the two workers.
//
// Policy (roughly presign-worker's defaults): Bearer HS256 JWT with `sub` and `exp` (jose,
// 60 s leeway), JSON body {filename, content_type, size}, the content type's essence must be
// in ALLOWED_CONTENT_TYPES, size <= MAX_UPLOAD_SIZE (and <= a `max_size` claim), the file name
// NFC-normalised, reduced to its last path component and free of control characters, key
// `{sub}/{uuid}/{filename}`, URL lifetime URL_TTL cut to the token's remaining life. The answer
// has presign-worker's shape: {method, url, headers, key, bucket, target, expires_at, expires_in}.
import { jwtVerify } from "jose";

const JSON_HEADERS = { "content-type": "application/json" };

export function json(status, value) {
  return new Response(JSON.stringify(value), { status, headers: JSON_HEADERS });
}

export function error(status, code, message) {
  return json(status, { error: { code, message } });
}

// Per-isolate configuration, built at the first request (env is only known then).
export async function loadConfig(env) {
  const target = (env.TARGETS || "uploads").split(",")[0].trim();
  const T = `TARGET_${target.toUpperCase()}_`;
  const secret = new TextEncoder().encode(env.JWT_SECRET);
  if (secret.length < 32) throw new Error("JWT_SECRET must be at least 32 bytes");
  return {
    target,
    endpoint: env[T + "ENDPOINT"],
    bucket: env[T + "BUCKET"],
    region: env[T + "REGION"] || "us-east-1",
    accessKeyId: env.S3_ACCESS_KEY_ID,
    secretAccessKey: env.S3_SECRET_ACCESS_KEY,
    // Imported once: jose would otherwise import a raw Uint8Array secret on every verify.
    jwtKey: await crypto.subtle.importKey(
      "raw",
      secret,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    ),
    allowed: (env.ALLOWED_CONTENT_TYPES || "").split(",").map((s) => s.trim().toLowerCase()),
    maxSize: Number(env.MAX_UPLOAD_SIZE || 104857600),
    ttl: Number(env.URL_TTL || 300),
    leeway: Number(env.JWT_LEEWAY || 60),
  };
}

const FORBIDDEN_CHARS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;
const TOKEN = /^[A-Za-z0-9!#$&\-^_.+]+$/;

function contentTypeAllowed(cfg, essence, claims) {
  const [type] = essence.split("/");
  const match = (p) => p === "*/*" || p === essence || p === `${type}/*`;
  if (!cfg.allowed.some(match)) return false;
  const granted = claims.content_types;
  if (granted === undefined) return true;
  const list = Array.isArray(granted) ? granted : [granted];
  return list.some((p) => match(String(p).trim().toLowerCase()));
}

function sanitizeFilename(name) {
  const base = name.normalize("NFC").split(/[/\\]/).pop();
  if (FORBIDDEN_CHARS.test(base)) return null;
  const clean = base.trim().replace(/[. ]+$/, "");
  if (clean === "" || clean === "." || clean === "..") return null;
  return clean.length > 200 ? clean.slice(0, 200) : clean;
}

// S3 URI encoding of a key (every byte but unreserved characters and '/').
export function encodeKey(key) {
  return key
    .split("/")
    .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase()))
    .join("/");
}

// Verifies the token and applies the policy: a Response on refusal, else what to sign.
export async function authorize(request, cfg) {
  const url = new URL(request.url);
  if (url.pathname !== "/v1/uploads") return error(404, "not_found", "no such route");
  if (request.method !== "POST") return error(405, "method_not_allowed", "use POST");
  const auth = request.headers.get("authorization") || "";
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(auth);
  if (!m) return error(401, "missing_token", "use Authorization: Bearer <token>");
  let claims;
  try {
    ({ payload: claims } = await jwtVerify(m[1], cfg.jwtKey, {
      algorithms: ["HS256"],
      clockTolerance: cfg.leeway,
      requiredClaims: ["sub", "exp"],
    }));
  } catch (e) {
    return error(401, "invalid_token", `the token was refused: ${e.code || e.message}`);
  }
  if (typeof claims.sub !== "string" || claims.sub === "" || claims.sub.includes("/")) {
    return error(403, "invalid_subject", "the token's subject cannot name a key");
  }
  const ct = (request.headers.get("content-type") || "").split(";")[0].trim().toLowerCase();
  if (ct !== "application/json") return error(415, "unsupported_media_type", "send the body as application/json");
  let body;
  try {
    body = await request.json();
  } catch {
    return error(400, "invalid_request", "the request body is not valid JSON");
  }
  const { filename, content_type: contentType, size } = body || {};
  if (typeof filename !== "string" || typeof contentType !== "string" || !Number.isSafeInteger(size) || size < 0) {
    return error(400, "invalid_request", "filename, content_type (strings) and size (integer) are required");
  }
  const value = contentType.trim();
  const essence = value.split(";")[0].trim().toLowerCase();
  const parts = essence.split("/");
  if (parts.length !== 2 || !TOKEN.test(parts[0]) || !TOKEN.test(parts[1])) {
    return error(422, "invalid_content_type", "content_type is not a media type like image/png");
  }
  if (!contentTypeAllowed(cfg, essence, claims)) {
    return error(422, "content_type_not_allowed", `content type ${essence} is not allowed`);
  }
  const max = typeof claims.max_size === "number" ? Math.min(claims.max_size, cfg.maxSize) : cfg.maxSize;
  if (size > max) return error(422, "size_too_large", `size ${size} is over the maximum of ${max} bytes`);
  const name = sanitizeFilename(filename);
  if (name === null) return error(422, "invalid_filename", "filename is not usable");
  const now = Math.floor(Date.now() / 1000);
  const ttl = Math.min(cfg.ttl, Math.floor(claims.exp) - now);
  if (ttl <= 0) return error(403, "token_expiring", "the token expires now; get a fresh one");
  return {
    key: `${claims.sub}/${crypto.randomUUID()}/${name}`,
    contentType: value,
    size,
    now,
    ttl,
  };
}

export function answer(cfg, job, url) {
  return json(200, {
    method: "PUT",
    url,
    headers: { "content-length": String(job.size), "content-type": job.contentType },
    key: job.key,
    bucket: cfg.bucket,
    target: cfg.target,
    expires_at: new Date((job.now + job.ttl) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z"),
    expires_in: job.ttl,
  });
}
