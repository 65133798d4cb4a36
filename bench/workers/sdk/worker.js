// Baseline 2: the approach of most tutorials. @aws-sdk/s3-request-presigner's getSignedUrl on a
// PutObjectCommand of @aws-sdk/client-s3 (ContentType and ContentLength become signed headers),
// jose verifies the HS256 JWT. See ../common.js for the shared policy.
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { answer, authorize, loadConfig } from "../common.js";

let state; // per isolate: { cfg, client }

async function init(env) {
  const cfg = await loadConfig(env);
  const client = new S3Client({
    region: cfg.region,
    endpoint: cfg.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey },
    // Since 3.729 the SDK adds a CRC32 checksum of the (empty) presigning body to PutObject
    // URLs, which stores then refuse for the real body; "WHEN_REQUIRED" is the documented fix.
    requestChecksumCalculation: "WHEN_REQUIRED",
  });
  return { cfg, client };
}

export default {
  async fetch(request, env) {
    state ??= await init(env);
    const { cfg, client } = state;
    const job = await authorize(request, cfg);
    if (job instanceof Response) return job;
    const command = new PutObjectCommand({
      Bucket: cfg.bucket,
      Key: job.key,
      ContentType: job.contentType,
      ContentLength: job.size,
    });
    const url = await getSignedUrl(client, command, {
      expiresIn: job.ttl,
      signableHeaders: new Set(["content-type", "content-length"]),
    });
    return answer(cfg, job, url);
  },
};
