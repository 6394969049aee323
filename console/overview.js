// The overview: the guide's seven statistics (GET /v1/stats) and the chart of the
// last 30 days (GET /v1/stats/daily).

import { call, explain } from "./api.js";
import { dailyChart, dailySeries } from "./chart.js";
import { count, decimal, h, message, title } from "./dom.js";

const CHART_DAYS = 30;

function figure(label, value, key) {
  return h("div", { class: "stat", "data-stat": key }, h("dt", {}, label), h("dd", {}, value));
}

function group(heading, ...figures) {
  return h("section", { class: "stat-group" }, h("h3", {}, heading), h("dl", {}, ...figures));
}

function statistics(stats) {
  const user = stats.longest_conversation_user;
  return h(
    "div",
    { class: "stats" },
    group(
      "In the store",
      figure("Conversations", count(stats.total_conversations), "total_conversations"),
      figure("Messages", count(stats.total_messages), "total_messages"),
      figure("Tokens", count(stats.total_tokens), "total_tokens"),
    ),
    group(
      "Per conversation, on average",
      figure("Messages", decimal(stats.average_messages_per_conversation), "average_messages_per_conversation"),
      figure("Tokens", decimal(stats.average_tokens_per_conversation), "average_tokens_per_conversation"),
    ),
    group(
      "Longest conversation",
      figure("Messages", count(stats.longest_conversation_messages), "longest_conversation_messages"),
      figure(
        "User",
        user === null || user === undefined
          ? h("span", { class: "muted" }, "none yet")
          : h("a", { href: `#/user/${encodeURIComponent(user)}`, class: "key" }, user),
        "longest_conversation_user",
      ),
    ),
  );
}

/** Renders the overview into `view`. */
export async function overview(view, { signal }) {
  const statsBox = h("section", { "aria-labelledby": "stats-title" }, h("h2", { id: "stats-title" }, "Statistics"), h("p", { class: "muted" }, "Loading…"));
  const chartBox = h("section", { "aria-labelledby": "chart-title", class: "chart-section" }, h("h2", { id: "chart-title" }, "Last 30 days"), h("p", { class: "muted" }, "Loading…"));
  view.replaceChildren(title("Overview"), statsBox, chartBox);

  const [stats, daily] = await Promise.allSettled([
    call("/v1/stats", { signal }),
    call(`/v1/stats/daily?days=${CHART_DAYS}`, { signal }),
  ]);
  if (signal.aborted) return;
  statsBox.lastChild.replaceWith(
    stats.status === "fulfilled" ? statistics(stats.value) : message("error", explain(stats.reason)),
  );
  if (daily.status === "fulfilled") {
    chartBox.lastChild.replaceWith(dailyChart(dailySeries(daily.value.days ?? [], CHART_DAYS)));
  } else {
    const reason = daily.reason;
    const text =
      reason.status === 404
        ? "This daemon does not offer daily figures (GET /v1/stats/daily answered 404); upgrade it to see the chart."
        : explain(reason);
    chartBox.lastChild.replaceWith(message("error", text));
  }
}
