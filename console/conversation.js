// One conversation: its record (counters, summary and its checkpoint, persona) and
// its messages, oldest first, a page at a time back through a long history
// (GET .../history?max_messages=N&before_id=oldest). An assistant message that calls
// tools (metadata.tool_calls) is shown with the tool messages that answer it
// (metadata.tool_call_id), each call beside its result.

import { call, explain, send } from "./api.js";
import { count, folded, h, message, plural, prettyJson, saveBlob, time, title } from "./dom.js";

const PAGE_MESSAGES = 50;

function field(label, value) {
  return h("div", { class: "pair" }, h("dt", {}, label), h("dd", {}, value));
}

function none(text = "none") {
  return h("span", { class: "muted" }, text);
}

/** The conversation record as a definition list. */
function record(conversation) {
  const checkpoint = conversation.summary_covers_through_id;
  return h(
    "dl",
    { class: "record" },
    field("Platform", conversation.platform),
    field("Chat", conversation.chat_id ?? none()),
    field("Created", time(conversation.created_at)),
    field("Last activity", time(conversation.last_activity)),
    field("Messages", count(conversation.message_count)),
    field("Tokens", count(conversation.total_tokens)),
    field("Persona", conversation.active_persona_id ?? none()),
    checkpoint !== undefined && checkpoint !== null
      ? [
          field("Summary covers", `messages up to #${checkpoint}`),
          field("Summary tokens", count(conversation.summary_tokens)),
        ]
      : null,
  );
}

function summary(conversation) {
  return h(
    "section",
    { class: "summary", "aria-labelledby": "summary-title" },
    h("h2", { id: "summary-title" }, "Summary"),
    conversation.summary === null || conversation.summary === undefined
      ? h("p", {}, none("No summary."))
      : folded(conversation.summary),
  );
}

/** The calls of an assistant message, or [] when it calls no tool. */
function toolCalls(item) {
  const calls = item.metadata?.tool_calls;
  return item.role === "assistant" && Array.isArray(calls) ? calls.filter((c) => c && typeof c === "object") : [];
}

/** The name and arguments of a call, in the shapes bots write (OpenAI's and others). */
function describeCall(toolCall) {
  const fn = toolCall.function && typeof toolCall.function === "object" ? toolCall.function : {};
  return {
    id: typeof toolCall.id === "string" ? toolCall.id : null,
    name: fn.name ?? toolCall.name ?? "(unnamed tool)",
    args: fn.arguments ?? toolCall.arguments ?? toolCall.args ?? toolCall.input ?? null,
  };
}

/**
 * Pairs each tool call with the first later tool message that answers it. Returns the
 * answers by call (Map of assistant message id -> Map of call id -> tool message) and
 * the ids of the tool messages so placed.
 */
function pairToolResults(messages) {
  const answers = new Map();
  const placed = new Set();
  const open = new Map(); // call id -> [assistant message id, answers of that message]
  for (const item of messages) {
    for (const toolCall of toolCalls(item)) {
      const { id } = describeCall(toolCall);
      if (id === null) continue;
      if (!answers.has(item.id)) answers.set(item.id, new Map());
      open.set(id, answers.get(item.id));
    }
    const answered = item.role === "tool" ? item.metadata?.tool_call_id : undefined;
    if (typeof answered === "string" && open.has(answered)) {
      open.get(answered).set(answered, item);
      open.delete(answered);
      placed.add(item.id);
    }
  }
  return { answers, placed };
}

function metadataDetails(metadata) {
  const keys = Object.keys(metadata ?? {});
  if (keys.length === 0) return null;
  return h(
    "details",
    { class: "metadata" },
    h("summary", {}, `Metadata: ${keys.join(", ")}`),
    h("pre", { class: "json" }, prettyJson(metadata)),
  );
}

function facts(item) {
  return h(
    "p",
    { class: "facts" },
    h("span", { class: `role role-${item.role}` }, item.role),
    h("span", { class: "id" }, `#${item.id}`),
    time(item.timestamp),
    h("span", { class: "tokens" }, plural(item.tokens, "token", "tokens")),
    item.idempotency_key ? h("span", { class: "muted" }, `key ${item.idempotency_key}`) : null,
  );
}

/** A tool's output: JSON pretty-printed in the fixed face, anything else as text. */
function toolOutput(content) {
  try {
    return folded(JSON.stringify(JSON.parse(content), null, 2), "json");
  } catch {
    return folded(content);
  }
}

function toolPair(toolCall, answer) {
  const { id, name, args } = describeCall(toolCall);
  const callSide = h(
    "section",
    { class: "tool-call", "aria-label": `Tool call ${name}` },
    h("h3", {}, "Call ", h("code", {}, name)),
    h("p", { class: "facts" }, id ? h("span", { class: "muted" }, `id ${id}`) : none("no id")),
    args === null ? h("p", {}, none("no arguments")) : folded(prettyJson(args), "json"),
  );
  const resultSide = answer
    ? h(
        "section",
        { class: "tool-result", "aria-label": `Result of ${name}`, "data-message-id": answer.id },
        h("h3", {}, "Result"),
        facts(answer),
        toolOutput(answer.content),
        metadataDetails(answer.metadata),
      )
    : h(
        "section",
        { class: "tool-result missing", "aria-label": `No result for ${name}` },
        h("h3", {}, "Result"),
        h("p", {}, none("No tool message answers this call among the messages shown.")),
      );
  return h("div", { class: "tool-pair", "data-call-id": id ?? "" }, callSide, resultSide);
}

function messageCard(item, answers) {
  const calls = toolCalls(item);
  const orphan = item.role === "tool" && typeof item.metadata?.tool_call_id === "string";
  return h(
    "li",
    { class: `message-card role-${item.role}`, "data-message-id": item.id },
    h(
      "article",
      { "aria-label": `${item.role} message ${item.id}` },
      facts(item),
      item.content === "" && calls.length > 0 ? null : folded(item.content),
      orphan
        ? h("p", { class: "muted" }, `Answers tool call ${item.metadata.tool_call_id}, whose call is not among the messages shown.`)
        : null,
      calls.length > 0
        ? h(
            "div",
            { class: "tool-exchange", "aria-label": `${plural(calls.length, "tool call", "tool calls")} and their results` },
            calls.map((toolCall) => toolPair(toolCall, answers.get(item.id)?.get(describeCall(toolCall).id))),
          )
        : null,
      metadataDetails(item.metadata),
    ),
  );
}

/** The loaded messages as a list, tool results placed beside their calls. */
function messageList(messages) {
  const { answers, placed } = pairToolResults(messages);
  return h(
    "ol",
    { class: "messages", "aria-label": "Messages, oldest first" },
    messages.filter((item) => !placed.has(item.id)).map((item) => messageCard(item, answers)),
  );
}

async function exportConversation(conversation, status) {
  status.replaceChildren(h("span", { class: "muted" }, "Exporting…"));
  try {
    const response = await send(`/v1/conversations/${conversation.id}/export`);
    saveBlob(await response.blob(), `conversation-${conversation.id}.json`);
    status.replaceChildren(message("success", `Saved conversation-${conversation.id}.json.`));
  } catch (error) {
    status.replaceChildren(message("error", explain(error)));
  }
}

/** Renders conversation `params.id` into `view`. */
export async function conversation(view, { params, signal }) {
  view.replaceChildren(title(`Conversation ${params.id}`), h("p", { class: "muted" }, "Loading…"));
  let stored;
  let page;
  try {
    [stored, page] = await Promise.all([
      call(`/v1/conversations/${encodeURIComponent(params.id)}`, { signal }),
      call(`/v1/conversations/${encodeURIComponent(params.id)}/history?max_messages=${PAGE_MESSAGES}`, { signal }),
    ]);
  } catch (error) {
    if (!signal.aborted) view.replaceChildren(title(`Conversation ${params.id}`), message("error", explain(error)), h("p", {}, h("a", { href: "#/conversations" }, "Back to the conversations")));
    return;
  }
  let messages = page.messages;
  const heading = title(stored.user_key);
  heading.classList.add("key");
  const exportStatus = h("div", { class: "inline-status", "aria-live": "polite" });
  const list = h("div", {});
  const earlierStatus = h("div", { "aria-live": "polite" });
  const earlier = h("button", { type: "button", class: "quiet" });
  const shown = h("p", { class: "muted shown" });

  const render = () => {
    const remaining = stored.message_count - messages.length;
    shown.textContent = `Showing ${plural(messages.length, "message", "messages")} of ${count(stored.message_count)}, oldest first.`;
    earlier.hidden = remaining <= 0;
    earlier.textContent = `Show earlier messages (${count(remaining)} more)`;
    list.replaceChildren(messages.length ? messageList(messages) : h("p", {}, none("No messages.")));
  };
  earlier.addEventListener("click", async () => {
    earlier.disabled = true;
    earlierStatus.replaceChildren(h("span", { class: "muted" }, "Loading earlier messages…"));
    try {
      const older = await call(
        `/v1/conversations/${stored.id}/history?max_messages=${PAGE_MESSAGES}&before_id=${messages[0].id}`,
      );
      if (older.messages.length === 0) {
        earlier.hidden = true;
        earlierStatus.replaceChildren(message("info", "No earlier messages could be read."));
        return;
      }
      messages = [...older.messages, ...messages];
      earlierStatus.replaceChildren();
      render();
    } catch (error) {
      earlierStatus.replaceChildren(message("error", explain(error)));
    } finally {
      earlier.disabled = false;
    }
  });

  view.replaceChildren(
    h("p", { class: "crumbs" }, h("a", { href: "#/conversations" }, "← Conversations")),
    heading,
    h(
      "div",
      { class: "toolbar" },
      h("button", { type: "button", onclick: () => exportConversation(stored, exportStatus) }, "Export this conversation (JSON)"),
      exportStatus,
    ),
    record(stored),
    summary(stored),
    h(
      "section",
      { "aria-labelledby": "messages-title" },
      h("h2", { id: "messages-title" }, "Messages"),
      shown,
      earlier,
      earlierStatus,
      list,
    ),
  );
  render();
}

/** Opens the conversation of user `params.key` (#/user/KEY). */
export async function byUser(view, { params, signal }) {
  view.replaceChildren(title("Finding the conversation…"));
  try {
    const found = await call(`/v1/conversations/by-user/${encodeURIComponent(params.key)}`, { signal });
    location.replace(`#/conversation/${found.id}`);
  } catch (error) {
    if (!signal.aborted) view.replaceChildren(title(params.key), message("error", explain(error)));
  }
}
