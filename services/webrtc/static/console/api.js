// The public API, called the way the reference's snippets call it, on the page's own origin (docs/CONSOLE.md).
// With API keys on, the key lives in sessionStorage: fetch sends it as `Authorization: Bearer`, WebSockets
// offer it as the `voicefleet.key.<key>` subprotocol (never in a URL, so never in a log).

const KEY = "voicefleet.apiKey";
export const LANGUAGES = ["vi", "en", "fr", "ja", "ko", "zh", "ru"];

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const apiKey = () => sessionStorage.getItem(KEY);
export const setApiKey = (key) => sessionStorage.setItem(KEY, key);

function withKey(headers = {}) {
  const key = apiKey();
  return key ? { ...headers, Authorization: `Bearer ${key}` } : headers;
}

// Every refusal for want of a key (401) forgets the key that was sent and asks the page for another
// (app.js listens); `sentKey` is the key the refused request carried, if any.
function keyNeeded(message, sentKey) {
  if (apiKey() === sentKey) sessionStorage.removeItem(KEY);
  const reason = sentKey ? `The key was refused: ${message}. Enter another key.` : message;
  window.dispatchEvent(new CustomEvent("voicefleet:key-needed", { detail: reason }));
}

async function errorOf(res, sentKey) {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    message = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? body);
  } catch { /* not JSON: the status line says it */ }
  if (res.status === 401) keyNeeded(message, sentKey);
  return new ApiError(res.status, message);
}

export async function request(path, { method = "GET", json, form, signal } = {}) {
  const sentKey = apiKey();
  const init = { method, signal, headers: withKey() };
  if (json !== undefined) {
    init.headers = withKey({ "Content-Type": "application/json" });
    init.body = JSON.stringify(json);
  } else if (form) {
    init.body = form;
  }
  const res = await fetch(path, init);
  if (!res.ok) throw await errorOf(res, sentKey);
  return res;
}

export const getJson = async (path, options) => (await request(path, options)).json();

export function formOf(fields) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item instanceof File) form.append(name, item, item.name);
      else form.append(name, item);
    }
  }
  return form;
}

export function openSocket(path) {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
  const key = apiKey();
  const ws = key ? new WebSocket(url, ["voicefleet", `voicefleet.key.${key}`]) : new WebSocket(url);
  ws.binaryType = "arraybuffer";
  return ws;
}

// The reference's toBase64: Float32 samples → int16 → base64.
export function toBase64(f32) {
  const i16 = new Int16Array(f32.length);
  for (let i = 0; i < f32.length; i++) i16[i] = Math.round(Math.max(-1, Math.min(1, f32[i])) * 32767);
  const u8 = new Uint8Array(i16.buffer);
  let s = "";
  u8.forEach((b) => (s += String.fromCharCode(b)));
  return btoa(s);
}

// A refused socket still gets an `error` event before its close: the same key prompt as a 401.
export function socketError(msg) {
  if (msg.code === "unauthorized") keyNeeded(msg.message, apiKey());
  return msg.message || "error";
}
