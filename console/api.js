// Calls to the convstore HTTP API with the operator's token, and what their failures
// mean to a person. The token lives in sessionStorage: this tab only, gone when the
// tab closes or the operator signs out.

const TOKEN_KEY = "convstore.console.token";

/** The token of this tab, or null (also when the daemon needs none). */
export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Keeps `token` for this tab; null forgets it. */
export function storeToken(token) {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** A failed call: the HTTP status (0: no answer) and the contract's error code and message. */
export class ApiFailure extends Error {
  constructor(status, code, detail) {
    super(detail);
    this.status = status;
    this.code = code;
  }
}

/** The headers every call carries: the token, when there is one. */
export function authHeaders(token = storedToken()) {
  return token === null ? {} : { Authorization: `Bearer ${token}` };
}

async function failure(response) {
  let code = "http_" + response.status;
  let detail = response.statusText || "no message";
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code ?? code;
      detail = body.error.message ?? detail;
    }
  } catch {
    // Not the contract's JSON error (a proxy's page, say): keep the status line.
  }
  return new ApiFailure(response.status, code, detail);
}

/**
 * Sends a request and answers the response (status 2xx) or throws an ApiFailure.
 * A 401 also fires "convstore:unauthorized", which sends the console back to sign-in.
 */
export async function send(path, { method = "GET", body, token = storedToken(), signal } = {}) {
  const headers = authHeaders(token);
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
      credentials: "omit",
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiFailure(0, "no_answer", "the daemon did not answer (is it running, is the network up?)");
  }
  if (!response.ok) {
    const error = await failure(response);
    if (response.status === 401 && token !== null) {
      window.dispatchEvent(new CustomEvent("convstore:unauthorized"));
    }
    throw error;
  }
  return response;
}

/** A call answering JSON (or null for 204). */
export async function call(path, options) {
  const response = await send(path, options);
  return response.status === 204 ? null : response.json();
}

/** A query string of the given parameters, leaving out empty ones. */
export function query(parameters) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** What a failure means, in a sentence for the operator. */
export function explain(error) {
  if (!(error instanceof ApiFailure)) return `Something went wrong in the console: ${error.message}`;
  switch (error.status) {
    case 0:
      return `No answer: ${error.message}.`;
    case 401:
      return "The token was refused (401). Sign in again.";
    case 503:
      return `The database is unavailable (503): ${error.message}. The daemon keeps running; try again once the database is back.`;
    case 404:
      return `Not found (404): ${error.message}.`;
    case 400:
      return `The request was refused (400 ${error.code}): ${error.message}.`;
    default:
      return `The daemon answered ${error.status} ${error.code}: ${error.message}.`;
  }
}
