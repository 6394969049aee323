// The list of conversations, newest activity first, a page at a time, filtered by
// platform and by user key prefix (GET /v1/conversations?platform=&user_key_prefix=).
// The filters and the page live in the address (#/conversations?platform=..&prefix=..
// &after=..), so the browser's back button and links work.

import { call, explain, query } from "./api.js";
import { count, h, message, time, title } from "./dom.js";

const PAGE_SIZE = 25;

/** The address of a list page. */
export function listAddress({ platform = "", prefix = "", after = "" } = {}) {
  return `#/conversations${query({ platform, prefix, after })}`;
}

function filters(params) {
  const platform = h("input", { id: "filter-platform", name: "platform", type: "text", value: params.platform ?? "", autocomplete: "off", spellcheck: "false" });
  const prefix = h("input", { id: "filter-prefix", name: "prefix", type: "search", value: params.prefix ?? "", autocomplete: "off", spellcheck: "false", placeholder: "feishu:group:" });
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter conversations" },
    h("div", { class: "field" }, h("label", { for: "filter-prefix" }, "User key starts with"), prefix),
    h("div", { class: "field" }, h("label", { for: "filter-platform" }, "Platform"), platform),
    h("div", { class: "field buttons" }, h("button", { type: "submit" }, "Search"), h("a", { href: listAddress(), class: "button quiet" }, "Clear")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = listAddress({ platform: platform.value.trim(), prefix: prefix.value });
  });
  return form;
}

function row(conversation) {
  return h(
    "tr",
    {},
    h("th", { scope: "row", "data-label": "User" }, h("a", { href: `#/conversation/${conversation.id}`, class: "key" }, conversation.user_key)),
    h("td", { "data-label": "Platform" }, conversation.platform),
    h("td", { "data-label": "Chat" }, conversation.chat_id ?? h("span", { class: "muted" }, "—")),
    h("td", { "data-label": "Messages", class: "number" }, count(conversation.message_count)),
    h("td", { "data-label": "Tokens", class: "number" }, count(conversation.total_tokens)),
    h("td", { "data-label": "Last activity" }, time(conversation.last_activity)),
    h("td", { "data-label": "Created" }, time(conversation.created_at)),
  );
}

function table(conversations) {
  return h(
    "table",
    { class: "data conversations" },
    h("caption", { class: "visually-hidden" }, "Conversations, newest activity first"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["User", "Platform", "Chat", "Messages", "Tokens", "Last activity", "Created"].map((name) =>
          h("th", { scope: "col", class: name === "Messages" || name === "Tokens" ? "number" : null }, name),
        ),
      ),
    ),
    h("tbody", {}, conversations.map(row)),
  );
}

/** Renders the list into `view`. */
export async function conversations(view, { params, signal }) {
  const results = h("div", { class: "results", "aria-live": "polite" }, h("p", { class: "muted" }, "Loading…"));
  view.replaceChildren(title("Conversations"), filters(params), results);
  let page;
  try {
    page = await call(
      `/v1/conversations${query({ limit: PAGE_SIZE, platform: params.platform, user_key_prefix: params.prefix, after_id: params.after })}`,
      { signal },
    );
  } catch (error) {
    if (!signal.aborted) results.replaceChildren(message("error", explain(error)));
    return;
  }
  const filtered = params.platform || params.prefix;
  const pager = h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    params.after ? h("a", { href: listAddress({ ...params, after: "" }), class: "button quiet" }, "← First page") : null,
    page.next_after_id !== null
      ? h("a", { href: listAddress({ ...params, after: page.next_after_id }), class: "button", rel: "next" }, "Next page →")
      : null,
  );
  if (page.conversations.length === 0) {
    results.replaceChildren(message("info", filtered ? "No conversation matches these filters." : "The store holds no conversation yet."), pager);
    return;
  }
  const summary = h(
    "p",
    { class: "muted" },
    `${page.conversations.length} conversations${params.after ? " (a later page)" : ""}, newest activity first${page.next_after_id !== null ? "; more on the next page" : ""}.`,
  );
  results.replaceChildren(summary, table(page.conversations), pager);
}
