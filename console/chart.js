// The chart of messages and tokens per day, drawn as inline SVG: messages as bars on
// the left axis, tokens as a line on the right axis, one UTC day per slot, oldest on
// the left. The same figures are offered as a table beside it.

import { count, h, svg } from "./dom.js";

const HEIGHT = 300;
const MARGIN = { top: 20, right: 68, bottom: 44, left: 60 };
const DAY_MS = 86_400_000;
const dayLabel = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });

/** "YYYY-MM-DD" of a UTC day. */
function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

/**
 * One entry per UTC day for the `span` days ending today (or at the newest day the
 * store reported, if its clock is ahead), oldest first; days the store did not list
 * count zero.
 */
export function dailySeries(days, span, now = new Date()) {
  const byDate = new Map(days.map((day) => [day.date, day]));
  const today = isoDay(now);
  const newest = days.reduce((latest, day) => (day.date > latest ? day.date : latest), today);
  const end = Date.parse(`${newest}T00:00:00Z`);
  const series = [];
  for (let index = span - 1; index >= 0; index -= 1) {
    const date = isoDay(new Date(end - index * DAY_MS));
    const day = byDate.get(date) ?? {};
    series.push({
      date,
      messages: day.messages ?? 0,
      tokens: day.tokens ?? 0,
      active_conversations: day.active_conversations ?? 0,
    });
  }
  return series;
}

/** Round tick values from 0 to at least `max`: about `wanted` of them, steps of 1, 2 or 5 x 10^n. */
function ticks(max, wanted = 5) {
  if (max <= 0) return [0, 1];
  const raw = max / wanted;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  const values = [];
  for (let value = 0; value < max + step; value += step) values.push(Math.max(0, Math.round(value)));
  return [...new Set(values)];
}

const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });

/** The SVG chart of `series`, `width` pixels wide. */
function drawing(series, width) {
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const messageTicks = ticks(Math.max(...series.map((d) => d.messages)));
  const tokenTicks = ticks(Math.max(...series.map((d) => d.tokens)));
  const messageMax = messageTicks.at(-1);
  const tokenMax = tokenTicks.at(-1);
  const slot = plotWidth / series.length;
  const x = (index) => MARGIN.left + slot * index + slot / 2;
  const yMessages = (value) => MARGIN.top + plotHeight - (value / messageMax) * plotHeight;
  const yTokens = (value) => MARGIN.top + plotHeight - (value / tokenMax) * plotHeight;
  const totalMessages = series.reduce((sum, d) => sum + d.messages, 0);
  const totalTokens = series.reduce((sum, d) => sum + d.tokens, 0);

  const grid = messageTicks.map((value) =>
    svg(
      "g",
      { class: "tick" },
      svg("line", { x1: MARGIN.left, x2: width - MARGIN.right, y1: yMessages(value), y2: yMessages(value), class: "grid" }),
      svg("text", { x: MARGIN.left - 8, y: yMessages(value), class: "axis-label messages-label" }, compact.format(value)),
    ),
  );
  const tokenLabels = tokenTicks.map((value) =>
    svg("text", { x: width - MARGIN.right + 8, y: yTokens(value), class: "axis-label tokens-label" }, compact.format(value)),
  );
  // A date label at most every 56 px, always on the newest day.
  const every = Math.max(1, Math.ceil(56 / slot));
  const dateLabels = series.map((day, index) =>
    (series.length - 1 - index) % every === 0
      ? svg(
          "text",
          { x: x(index), y: HEIGHT - MARGIN.bottom + 18, class: "axis-label date-label" },
          dayLabel.format(new Date(`${day.date}T00:00:00Z`)),
        )
      : null,
  );
  const barWidth = Math.max(2, slot * 0.62);
  const bars = series.map((day, index) =>
    svg(
      "rect",
      {
        class: "bar",
        x: x(index) - barWidth / 2,
        y: yMessages(day.messages),
        width: barWidth,
        height: Math.max(0, MARGIN.top + plotHeight - yMessages(day.messages)),
        "data-date": day.date,
        "data-messages": day.messages,
      },
      svg(
        "title",
        {},
        `${day.date}: ${count(day.messages)} messages, ${count(day.tokens)} tokens, ${count(day.active_conversations)} active conversations`,
      ),
    ),
  );
  const points = series.map((day, index) => `${x(index)},${yTokens(day.tokens)}`).join(" ");
  const dots = series.map((day, index) =>
    svg("circle", { class: "dot", cx: x(index), cy: yTokens(day.tokens), r: slot < 12 ? 2 : 3, "data-tokens": day.tokens }),
  );

  return svg(
    "svg",
    {
      class: "chart",
      width,
      height: HEIGHT,
      viewBox: `0 0 ${width} ${HEIGHT}`,
      role: "img",
      "aria-label": `Messages and tokens per day over the last ${series.length} days: ${count(totalMessages)} messages and ${count(totalTokens)} tokens in all.`,
    },
    grid,
    svg("line", { class: "axis", x1: MARGIN.left, x2: width - MARGIN.right, y1: MARGIN.top + plotHeight, y2: MARGIN.top + plotHeight }),
    svg("line", { class: "axis", x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: MARGIN.top + plotHeight }),
    svg("line", { class: "axis tokens-axis", x1: width - MARGIN.right, x2: width - MARGIN.right, y1: MARGIN.top, y2: MARGIN.top + plotHeight }),
    bars,
    svg("polyline", { class: "line", points }),
    dots,
    tokenLabels,
    dateLabels,
    svg("text", { class: "axis-title", x: 14, y: MARGIN.top + plotHeight / 2, transform: `rotate(-90 14 ${MARGIN.top + plotHeight / 2})` }, "messages"),
    svg("text", { class: "axis-title tokens-label", x: width - 12, y: MARGIN.top + plotHeight / 2, transform: `rotate(90 ${width - 12} ${MARGIN.top + plotHeight / 2})` }, "tokens"),
    svg("text", { class: "axis-title", x: MARGIN.left + plotWidth / 2, y: HEIGHT - 6 }, "day (UTC)"),
  );
}

/** The same figures as a table, newest day first. */
function table(series) {
  return h(
    "table",
    { class: "data" },
    h("caption", {}, "Messages, tokens and active conversations per UTC day"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Day (UTC)"), h("th", { scope: "col", class: "number" }, "Messages"), h("th", { scope: "col", class: "number" }, "Tokens"), h("th", { scope: "col", class: "number" }, "Active conversations"))),
    h(
      "tbody",
      {},
      [...series].reverse().map((day) =>
        h(
          "tr",
          {},
          h("th", { scope: "row", "data-label": "Day (UTC)" }, day.date),
          h("td", { "data-label": "Messages", class: "number" }, count(day.messages)),
          h("td", { "data-label": "Tokens", class: "number" }, count(day.tokens)),
          h("td", { "data-label": "Active conversations", class: "number" }, count(day.active_conversations)),
        ),
      ),
    ),
  );
}

/**
 * A figure with the chart (redrawn to the figure's width when the window is resized),
 * its legend and a folded table of the figures.
 */
export function dailyChart(series) {
  const holder = h("div", { class: "chart-holder" });
  const figure = h(
    "figure",
    { class: "daily" },
    h(
      "figcaption",
      {},
      `Messages and tokens per day, last ${series.length} days`,
      h(
        "span",
        { class: "legend" },
        h("span", { class: "legend-item" }, h("span", { class: "swatch messages" }), "messages (bars, left axis)"),
        h("span", { class: "legend-item" }, h("span", { class: "swatch tokens" }), "tokens (line, right axis)"),
      ),
    ),
    holder,
    h("details", {}, h("summary", {}, "Show as a table"), table(series)),
  );
  let drawnWidth = 0;
  const observer = new ResizeObserver(() => {
    if (!holder.isConnected) {
      // Removed with its view after it was drawn: done. Not yet shown: wait for it.
      if (drawnWidth > 0) observer.disconnect();
      return;
    }
    const width = Math.max(300, Math.floor(holder.clientWidth));
    if (width === drawnWidth) return;
    drawnWidth = width;
    holder.replaceChildren(drawing(series, width));
  });
  observer.observe(holder);
  return figure;
}
