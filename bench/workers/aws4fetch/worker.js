// Baseline 1: the usual choice on Workers. aws4fetch signs (AwsClient.sign with signQuery, and
// allHeaders so that content-type and content-length, which aws4fetch leaves unsigned by
// default, are signed), jose verifies the HS256 JWT. See ../common.js for the shared policy.
import { AwsClient } from "aws4fetch";
import { answer, authorize, encodeKey, error, loadConfig } from "../common.js";

let state; // per isolate: { cfg, client }

async function init(env) {
  const cfg = await loadConfig(env);
  const client = new AwsClient({
    accessKeyId: cfg.accessKeyId,
    secretAccessKey: cfg.secretAccessKey,
    service: "s3",
    region: cfg.region,
  });
  return { cfg, client };
}

export default {
  async fetch(request, env) {
    state ??= await init(env);
    const { cfg, client } = state;
    const job = await authorize(request, cfg);
    if (job instanceof Response) return job;
    const url = `${cfg.endpoint}/${cfg.bucket}/${encodeKey(job.key)}?X-Amz-Expires=${job.ttl}`;
    const signed = await client.sign(url, {
      method: "PUT",
      headers: { "content-type": job.contentType, "content-length": String(job.size) },
      aws: { signQuery: true, allHeaders: true },
    });
    if (!signed.url) return error(500, "sign_failed", "no URL");
    return answer(cfg, job, signed.url);
  },
};
