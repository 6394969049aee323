// Building the page from data. Everything that comes from the store (user keys,
// message contents, metadata) is untrusted: it only ever becomes text nodes and
// attribute values, never markup: nothing here parses a string as HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

// Sets attributes and listeners: `on*` keys with a function are listeners, `text` is
// the text content; false, null and undefined leave the attribute out.
function apply(element, attributes) {
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "text") {
      element.textContent = String(value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** An HTML element: h("a", {href: "#/x"}, "text", otherNode). */
export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  apply(element, attributes);
  return append(element, children);
}

/** An SVG element, as `h` does for HTML. */
export function svg(tag, attributes, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  apply(element, attributes);
  return append(element, children);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** The browser's time zone, e.g. "Europe/Berlin". */
export function timeZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
}

/** A <time> showing an RFC 3339 timestamp in the browser's time zone (UTC in its title). */
export function time(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return h("span", {}, iso);
  return h("time", { datetime: iso, title: `${iso} (UTC)` }, dateTime.format(date));
}

const numbers = new Intl.NumberFormat();

/** A count with the browser's digit grouping. */
export function count(value) {
  return typeof value === "number" ? numbers.format(value) : "—";
}

/** A number rounded to one decimal. */
export function decimal(value) {
  return typeof value === "number"
    ? new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 }).format(value)
    : "—";
}

/** "1 message", "2 messages". */
export function plural(value, one, many) {
  return `${count(value)} ${value === 1 ? one : many}`;
}

const FOLD_CHARACTERS = 600;
const FOLD_LINES = 12;

/**
 * Text in a <pre>, folded to its first lines when it is long, with a button that
 * shows it all (and folds it again).
 */
export function folded(text, className = "content") {
  const full = String(text ?? "");
  const lines = full.split("\n");
  const long = full.length > FOLD_CHARACTERS || lines.length > FOLD_LINES;
  const pre = h("pre", { class: className }, full);
  if (!long) return pre;
  let short = lines.slice(0, FOLD_LINES).join("\n");
  if (short.length > FOLD_CHARACTERS) short = short.slice(0, FOLD_CHARACTERS);
  short = `${short}…`;
  pre.textContent = short;
  pre.classList.add("is-folded");
  const button = h("button", { type: "button", class: "quiet fold", "aria-expanded": "false" });
  const label = () =>
    pre.classList.contains("is-folded")
      ? `Show all (${count(full.length)} characters, ${plural(lines.length, "line", "lines")})`
      : "Show less";
  button.textContent = label();
  button.addEventListener("click", () => {
    const folding = !pre.classList.contains("is-folded");
    pre.textContent = folding ? short : full;
    pre.classList.toggle("is-folded", folding);
    button.setAttribute("aria-expanded", String(!folding));
    button.textContent = label();
  });
  return h("div", { class: "foldable" }, pre, button);
}

/** JSON shown pretty-printed; a string that holds JSON is parsed first. */
export function prettyJson(value) {
  if (typeof value === "string") {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value, null, 2);
}

/** A message box: kind is "error", "warning", "success" or "info". */
export function message(kind, ...children) {
  return h("p", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, ...children);
}

/** A heading that takes the focus when a view opens, so keyboard users start there. */
export function title(text) {
  return h("h1", { tabindex: "-1", class: "view-title" }, text);
}

/**
 * Asks for confirmation in a modal dialog (Escape or Cancel refuses); resolves to
 * true when confirmed.
 */
export function confirmAction({ heading, body, confirm }) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "confirm", "aria-labelledby": "confirm-heading" },
      h("h2", { id: "confirm-heading" }, heading),
      ...body.map((text) => h("p", {}, text)),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "quiet", autofocus: true, onclick: () => dialog.close("cancel") }, "Cancel"),
        h("button", { type: "button", class: "danger", onclick: () => dialog.close("confirm") }, confirm),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Saves `blob` as a file named `filename` (a download the browser asks nothing for). */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
