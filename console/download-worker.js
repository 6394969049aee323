// The console's service worker (scope /console/): streams a large export to a file.
// A browser cannot add the bearer token to a plain download, and reading the export
// into the page first would hold all of it in memory. So the page hands this worker
// the path and the token; the worker starts the request, tells the page whether the
// daemon accepted it, and answers the page's next navigation to
// /console/download/<id> with the response body as an attachment, streamed as it
// arrives. Each download id is used once and forgotten after a minute.

const PENDING_MS = 60_000;
const pending = new Map();

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

async function failure(response) {
  try {
    const body = await response.json();
    return { status: response.status, code: body.error?.code ?? `http_${response.status}`, message: body.error?.message ?? response.statusText };
  } catch {
    return { status: response.status, code: `http_${response.status}`, message: response.statusText };
  }
}

self.addEventListener("message", (event) => {
  const request = event.data;
  const port = event.ports[0];
  if (!request || request.type !== "export" || !port || typeof request.path !== "string" || !request.path.startsWith("/admin/")) return;
  const headers = request.token ? { Authorization: `Bearer ${request.token}` } : {};
  const work = fetch(request.path, { headers, cache: "no-store", credentials: "omit" })
    .then(async (response) => {
      if (!response.ok) {
        port.postMessage({ ok: false, ...(await failure(response)) });
        return;
      }
      const id = crypto.randomUUID();
      let settle;
      const taken = new Promise((resolve) => {
        settle = resolve;
      });
      pending.set(id, { response, filename: request.filename, settle });
      setTimeout(() => {
        if (pending.delete(id)) {
          response.body?.cancel();
          settle();
        }
      }, PENDING_MS);
      port.postMessage({ ok: true, url: `/console/download/${id}` });
      await taken;
    })
    .catch((error) => port.postMessage({ ok: false, status: 0, code: "no_answer", message: String(error) }));
  // Keeps the worker alive until the page has come for the stream.
  event.waitUntil(work);
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const prefix = "/console/download/";
  if (url.origin !== self.location.origin || !url.pathname.startsWith(prefix)) return;
  const id = url.pathname.slice(prefix.length);
  const entry = pending.get(id);
  pending.delete(id);
  if (!entry) {
    event.respondWith(new Response("This download link has expired; start the export again from the console.", { status: 410, headers: { "Content-Type": "text/plain; charset=utf-8" } }));
    return;
  }
  entry.settle();
  const safeName = String(entry.filename || "export.ndjson").replace(/[^A-Za-z0-9._-]/g, "_");
  event.respondWith(
    new Response(entry.response.body, {
      status: 200,
      headers: {
        "Content-Type": entry.response.headers.get("Content-Type") ?? "application/octet-stream",
        "Content-Disposition": `attachment; filename="${safeName}"`,
        "Cache-Control": "no-store",
      },
    }),
  );
});
