// The runtime's floor for the full job's request (scripts/bench.sh, target `floor`): a plain
// JavaScript worker that reads the POST body, writes one log line and answers a small fixed
// JSON, with no token check, policy or signing. What any worker pays for such a request in
// workerd; the full job of presign-worker can only add to it.
export default {
  async fetch(request) {
    const started = Date.now();
    const body = await request.arrayBuffer();
    const answer = new Response(`{"received":${body.byteLength}}`, {
      status: 200,
      headers: { "content-type": "application/json" },
    });
    console.log(
      JSON.stringify({ method: request.method, route: "floor", status: 200, duration_ms: Date.now() - started, error: null }),
    );
    return answer;
  },
};
