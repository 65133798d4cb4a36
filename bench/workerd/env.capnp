# The environment every benchmarked worker gets (text bindings, like wrangler.toml [vars] and
# secrets). Bench-only credentials: the store never exists at this address; scripts/bench.sh
# checks URLs against a local s3s-fs started with the same keys (curl --connect-to).
@0xc4a1f3e2b7d95a01;
using Workerd = import "/workerd/workerd.capnp";

const bindings :List(Workerd.Worker.Binding) = [
  (name = "TARGETS", text = "uploads"),
  (name = "TARGET_UPLOADS_KIND", text = "custom"),
  (name = "TARGET_UPLOADS_BUCKET", text = "uploads"),
  (name = "TARGET_UPLOADS_ENDPOINT", text = "http://s3.bench.invalid:9000"),
  (name = "S3_ACCESS_KEY_ID", text = "BENCHACCESSKEY"),
  (name = "S3_SECRET_ACCESS_KEY", text = "bench-secret-access-key-0123456789abcdef"),
  (name = "JWT_SECRET", text = "bench-jwt-secret-0123456789abcdef-0123456789"),
  (name = "JWT_ALGORITHMS", text = "HS256"),
  (name = "JWT_LEEWAY", text = "60"),
  (name = "KEY_TEMPLATE", text = "{sub}/{uuid}/{filename}"),
  (name = "ALLOWED_CONTENT_TYPES", text = "image/png,image/jpeg,image/gif,image/webp,image/avif,application/pdf,text/plain,application/octet-stream"),
  (name = "MAX_UPLOAD_SIZE", text = "104857600"),
  (name = "URL_TTL", text = "300"),
  (name = "MAX_BODY_BYTES", text = "16384"),
];
