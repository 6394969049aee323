// Operations: the scheduled jobs (GET /admin/schedule), a cleanup and the backend's
// maintenance on demand (each confirmed first, its result shown), and the export of
// every conversation (GET /admin/export, NDJSON), streamed to a file.

import { ApiFailure, call, explain, send, storedToken } from "./api.js";
import { confirmAction, count, h, message, saveBlob, time, title } from "./dom.js";

const JOB_NAMES = { cleanup: "Cleanup of idle conversations", maintenance: "Database maintenance" };

function duration(ms) {
  return typeof ms === "number" ? `${count(ms)} ms` : "—";
}

function scheduleTable(jobs) {
  if (jobs.length === 0) return message("info", "This daemon runs no scheduler.");
  return h(
    "table",
    { class: "data jobs" },
    h("caption", { class: "visually-hidden" }, "Scheduled jobs"),
    h("thead", {}, h("tr", {}, ["Job", "Schedule (UTC)", "Next run", "Last run", "Took", "Last result", "Runs ok / failed"].map((name) => h("th", { scope: "col" }, name)))),
    h(
      "tbody",
      {},
      jobs.map((job) =>
        h(
          "tr",
          { "data-job": job.name },
          h("th", { scope: "row", "data-label": "Job" }, JOB_NAMES[job.name] ?? job.name),
          h("td", { "data-label": "Schedule (UTC)" }, job.enabled ? h("code", {}, job.cron) : h("span", { class: "muted" }, "disabled")),
          h("td", { "data-label": "Next run" }, time(job.next_run)),
          h("td", { "data-label": "Last run" }, job.last_run ? time(job.last_run) : h("span", { class: "muted" }, "not since start")),
          h("td", { "data-label": "Took" }, duration(job.last_duration_ms)),
          h(
            "td",
            { "data-label": "Last result", class: job.last_result?.startsWith("error") ? "failed" : null },
            job.last_result ?? h("span", { class: "muted" }, "—"),
          ),
          h("td", { "data-label": "Runs ok / failed", class: "number" }, `${count(job.runs_ok)} / ${count(job.runs_failed)}`),
        ),
      ),
    ),
  );
}

function cleanupSection(schedule) {
  const days = h("input", { id: "cleanup-days", name: "days", type: "number", min: "0", max: "36500", step: "1", required: true, value: schedule.cleanup_days ?? 30, inputmode: "numeric" });
  const result = h("div", { class: "result", "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "danger" }, "Run cleanup…");
  const archiveNote = schedule.cleanup_archives
    ? message("info", "An archive folder is configured (schedule.archive_dir): every conversation is written there, as NDJSON, before it is deleted.")
    : message("warning", "No archive folder is configured (schedule.archive_dir): deleted conversations are gone for good.");
  const form = h(
    "form",
    { class: "operation", novalidate: true },
    h("div", { class: "field" }, h("label", { for: "cleanup-days" }, "Delete conversations without activity for more than (days)"), days),
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = Number(days.value);
    if (days.value.trim() === "" || !Number.isInteger(value) || value < 0 || value > 36500) {
      result.replaceChildren(message("error", "Days must be a whole number from 0 to 36500."));
      days.focus();
      return;
    }
    const confirmed = await confirmAction({
      heading: "Run a cleanup now?",
      body: [
        `Every conversation without activity for more than ${count(value)} days is deleted, with its messages.`,
        schedule.cleanup_archives ? "They are archived first to the configured folder." : "No archive is configured: this cannot be undone.",
      ],
      confirm: "Delete idle conversations",
    });
    if (!confirmed) {
      result.replaceChildren(message("info", "Cleanup cancelled; nothing was deleted."));
      return;
    }
    button.disabled = true;
    result.replaceChildren(h("span", { class: "muted" }, "Cleaning up…"));
    try {
      const report = await call(`/admin/cleanup?days=${value}`, { method: "POST" });
      result.replaceChildren(
        message("success", `Cleanup done: ${count(report.deleted)} ${report.deleted === 1 ? "conversation" : "conversations"} deleted (idle for more than ${count(value)} days).`),
      );
    } catch (error) {
      result.replaceChildren(message("error", explain(error)));
    } finally {
      button.disabled = false;
    }
  });
  return h("section", { "aria-labelledby": "cleanup-title", class: "card" }, h("h2", { id: "cleanup-title" }, "Cleanup"), archiveNote, form, result);
}

function vacuumSection() {
  const result = h("div", { class: "result", "aria-live": "polite" });
  const button = h("button", { type: "button" }, "Run maintenance…");
  button.addEventListener("click", async () => {
    const confirmed = await confirmAction({
      heading: "Run the database maintenance now?",
      body: ["SQLite: VACUUM, PRAGMA optimize and a WAL checkpoint; PostgreSQL: VACUUM ANALYZE; MySQL: OPTIMIZE and ANALYZE TABLE. Writes may wait while it runs."],
      confirm: "Run maintenance",
    });
    if (!confirmed) {
      result.replaceChildren(message("info", "Maintenance cancelled."));
      return;
    }
    button.disabled = true;
    result.replaceChildren(h("span", { class: "muted" }, "Running maintenance…"));
    try {
      const report = await call("/admin/vacuum", { method: "POST" });
      result.replaceChildren(message("success", `Maintenance done on ${report.backend} in ${duration(report.duration_ms)}.`));
    } catch (error) {
      result.replaceChildren(message("error", explain(error)));
    } finally {
      button.disabled = false;
      button.focus();
    }
  });
  return h(
    "section",
    { "aria-labelledby": "vacuum-title", class: "card" },
    h("h2", { id: "vacuum-title" }, "Maintenance (VACUUM)"),
    h("p", {}, "Reclaims space and refreshes the planner's statistics. It also runs on its schedule above."),
    button,
    result,
  );
}

function exportFilename() {
  return `convstore-export-${new Date().toISOString().replace(/[:.]/g, "-")}.ndjson`;
}

/**
 * Streams GET /admin/export to a file through the console's service worker, which
 * adds the token and hands the browser the body as it arrives (a download of any
 * size, in constant memory). Without a service worker (plain HTTP to a remote host),
 * the export is read whole, then saved.
 */
async function exportAll(result) {
  const filename = exportFilename();
  const registration = "serviceWorker" in navigator ? await navigator.serviceWorker.getRegistration("/console/") : undefined;
  if (!registration?.active) {
    result.replaceChildren(h("span", { class: "muted" }, "Reading the export (this browser saves it once it is complete)…"));
    const response = await send("/admin/export");
    saveBlob(await response.blob(), filename);
    result.replaceChildren(message("success", `Saved ${filename}.`));
    return;
  }
  result.replaceChildren(h("span", { class: "muted" }, "Starting the export…"));
  const channel = new MessageChannel();
  const answer = new Promise((resolve) => {
    channel.port1.onmessage = (event) => resolve(event.data);
  });
  registration.active.postMessage({ type: "export", path: "/admin/export", filename, token: storedToken() }, [channel.port2]);
  const started = await answer;
  if (!started.ok) {
    if (started.status === 401) window.dispatchEvent(new CustomEvent("convstore:unauthorized"));
    throw new ApiFailure(started.status, started.code, started.message);
  }
  // A navigation the worker answers with the stream as an attachment: the page stays.
  location.assign(started.url);
  result.replaceChildren(message("success", `Export started: your browser is saving ${filename} as it streams.`));
}

function exportSection() {
  const result = h("div", { class: "result", "aria-live": "polite" });
  const button = h("button", { type: "button" }, "Export every conversation (NDJSON)");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await exportAll(result);
    } catch (error) {
      result.replaceChildren(message("error", explain(error)));
    } finally {
      button.disabled = false;
    }
  });
  return h(
    "section",
    { "aria-labelledby": "export-title", class: "card" },
    h("h2", { id: "export-title" }, "Export"),
    h("p", {}, "Every conversation, one export document a line; it imports back with ", h("code", {}, "convstore import"), " or POST /admin/import. One conversation exports from its own page."),
    button,
    result,
  );
}

/** Renders the operations into `view`. */
export async function operations(view, { signal }) {
  const jobs = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const refresh = h("button", { type: "button", class: "quiet" }, "Refresh");
  const tools = h("div", { class: "cards" });
  view.replaceChildren(
    title("Operations"),
    h("section", { "aria-labelledby": "schedule-title" }, h("div", { class: "section-head" }, h("h2", { id: "schedule-title" }, "Scheduled jobs"), refresh), jobs),
    tools,
  );
  const load = async () => {
    try {
      const schedule = await call("/admin/schedule", { signal });
      jobs.replaceChildren(scheduleTable(schedule.jobs));
      return schedule;
    } catch (error) {
      if (!signal.aborted) jobs.replaceChildren(message("error", explain(error)));
      return null;
    }
  };
  refresh.addEventListener("click", load);
  const schedule = await load();
  if (signal.aborted) return;
  tools.replaceChildren(cleanupSection(schedule ?? {}), vacuumSection(), exportSection());
}
