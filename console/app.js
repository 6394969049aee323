// The console's shell: sign-in, navigation and the views. Nothing of the store is
// fetched or shown before a call made with the token has been accepted.
//
// Addresses: #/overview, #/conversations?platform=&prefix=&after=,
// #/conversation/<id>, #/user/<user key>, #/operations.

import { ApiFailure, call, explain, storedToken, storeToken } from "./api.js";
import { byUser, conversation } from "./conversation.js";
import { conversations } from "./conversations.js";
import { timeZone } from "./dom.js";
import { operations } from "./operations.js";
import { overview } from "./overview.js";

const elements = {
  nav: document.getElementById("nav"),
  signOut: document.getElementById("sign-out"),
  signIn: document.getElementById("sign-in"),
  form: document.getElementById("sign-in-form"),
  token: document.getElementById("token"),
  signInMessage: document.getElementById("sign-in-message"),
  notice: document.getElementById("notice"),
  view: document.getElementById("view"),
};

const ROUTES = [
  { pattern: /^\/(overview)?$/, view: overview, name: "overview", title: "Overview" },
  { pattern: /^\/conversations$/, view: conversations, name: "conversations", title: "Conversations" },
  { pattern: /^\/conversation\/(?<id>[1-9][0-9]*)$/, view: conversation, name: "conversations", title: "Conversation" },
  { pattern: /^\/user\/(?<key>.+)$/, view: byUser, name: "conversations", title: "Conversation" },
  { pattern: /^\/operations$/, view: operations, name: "operations", title: "Operations" },
];

// The call that proves a token: guarded, and answered without the database, so
// that an outage is not taken for a wrong token.
const PROBE = "/admin/schedule";

let signedIn = false;
let current = null;

function showSignIn(text) {
  signedIn = false;
  current?.abort();
  elements.view.replaceChildren();
  elements.notice.hidden = true;
  elements.nav.hidden = true;
  elements.signOut.hidden = true;
  elements.signIn.hidden = false;
  elements.signInMessage.hidden = !text;
  elements.signInMessage.textContent = text ?? "";
  elements.signInMessage.className = text ? "message error" : "message";
  document.title = "Sign in · convstore console";
  elements.token.value = "";
  elements.token.focus();
}

function route() {
  if (!signedIn) return;
  const hash = location.hash.replace(/^#/, "") || "/overview";
  const [path, search = ""] = hash.split("?");
  const match = ROUTES.map((r) => ({ r, m: r.pattern.exec(path) })).find(({ m }) => m);
  current?.abort();
  current = new AbortController();
  const signal = current.signal;
  for (const link of elements.nav.querySelectorAll("a")) {
    if (match && link.dataset.view === match.r.name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!match) {
    location.replace("#/overview");
    return;
  }
  const groups = match.m.groups ?? {};
  const params = { ...Object.fromEntries(new URLSearchParams(search)), ...groups };
  if (params.key) params.key = decodeURIComponent(params.key);
  document.title = `${match.r.title} · convstore console`;
  match.r
    .view(elements.view, { params, signal })
    .then(() => {
      if (signal.aborted) return;
      elements.view.querySelector(".view-title")?.focus({ preventScroll: true });
    })
    .catch((error) => {
      if (error.name !== "AbortError") console.error(error);
    });
}

function enter(notice) {
  signedIn = true;
  elements.signIn.hidden = true;
  elements.nav.hidden = false;
  elements.signOut.hidden = storedToken() === null;
  elements.notice.hidden = !notice;
  elements.notice.textContent = notice ?? "";
  route();
}

/** Tries `token` (null: none) on the probe; true when the daemon accepts it. */
async function accepted(token) {
  try {
    await call(PROBE, { token });
    return true;
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 401) return false;
    throw error;
  }
}

async function start() {
  document.getElementById("time-zone").textContent = timeZone();
  const token = storedToken();
  try {
    if (token !== null) {
      if (await accepted(token)) return enter();
      storeToken(null);
      return showSignIn("The token kept in this tab is no longer accepted. Sign in again.");
    }
    if (await accepted(null)) {
      return enter("This daemon has no token configured: anyone who can reach it can read and change the store.");
    }
    showSignIn();
  } catch (error) {
    showSignIn(explain(error));
  }
}

elements.form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = elements.token.value.trim();
  if (!token) {
    showSignIn("Enter the token.");
    return;
  }
  const button = elements.form.querySelector("button");
  button.disabled = true;
  try {
    if (await accepted(token)) {
      storeToken(token);
      elements.token.value = "";
      enter();
    } else {
      showSignIn("That token was refused (401). Nothing of the store is shown without a valid token.");
    }
  } catch (error) {
    showSignIn(explain(error));
  } finally {
    button.disabled = false;
  }
});

elements.signOut.addEventListener("click", () => {
  storeToken(null);
  showSignIn("Signed out. The token is forgotten in this tab.");
  elements.signInMessage.className = "message info";
});

window.addEventListener("convstore:unauthorized", () => {
  storeToken(null);
  showSignIn("The token was refused (401): it may have changed. Sign in again.");
});
window.addEventListener("hashchange", route);

if ("serviceWorker" in navigator && window.isSecureContext) {
  navigator.serviceWorker.register("/console/download-worker.js", { scope: "/console/" }).catch((error) => {
    console.warn("the download worker is unavailable; exports are read whole before saving", error);
  });
}

start();
