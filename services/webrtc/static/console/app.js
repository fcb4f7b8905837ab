// The console: tabs, the status strip, the key prompt and the catalog's pickers; each panel is a module.
import { apiKey, getJson, LANGUAGES, setApiKey } from "./api.js";
import { $, el, fillSelect } from "./ui.js";
import { initTranscribe } from "./panels/transcribe.js";
import { initLive } from "./panels/live.js";
import { initChat } from "./panels/chat.js";
import { initVoices } from "./panels/voices.js";
import { initTts } from "./panels/tts.js";

const SERVICES = ["asr", "tts", "voice", "voicechat", "webrtc", "catalog"];
let statusShown = "";

function initTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const select = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
    tab.focus();
    history.replaceState(null, "", `#${tab.getAttribute("aria-controls")}`);
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (step) select(tabs[(i + step + tabs.length) % tabs.length]);
      if (e.key === "Home") select(tabs[0]);
      if (e.key === "End") select(tabs[tabs.length - 1]);
    });
  });
  const initial = tabs.find((t) => `#${t.getAttribute("aria-controls")}` === location.hash);
  if (initial) select(initial);
}

// What a /readyz body says beyond its status: models loaded, what is not configured and why.
function readinessDetails(body) {
  return Object.entries(body)
    .filter(([name]) => !["status", "service"].includes(name))
    .map(([name, value]) => `${name}: ${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join("\n");
}

async function refreshStatus() {
  const items = await Promise.all(
    SERVICES.map(async (name) => {
      let state = "down";
      let details = "no answer";
      try {
        const res = await fetch(`/readyz/${name}`);
        const body = await res.json();
        state = { ready: "ready", not_ready: "not-ready" }[body.status] || "down";
        details = readinessDetails(body);
      } catch { /* the gateway has no replica up for it */ }
      return el("li", { class: `svc ${state}`, title: details, tabIndex: 0, "data-service": name },
        el("strong", {}, name), ` ${state}`, el("span", { class: "details" }, details));
    }),
  );
  // Redrawn only when something changed: the strip is a live region, read out on every change.
  const shown = items.map((item) => `${item.className} ${item.title}`).join("\n");
  if (shown !== statusShown) $("status").replaceChildren(...items);
  statusShown = shown;
}

function askForKey(reason) {
  $("key-reason").textContent = reason;
  $("key-form").hidden = false;
  $("api-key").focus();
}

// The catalog's lists are the first API call: a refused key (401) leaves the prompt open with the server's
// reason (api.js asks for another); any other answer means the key was accepted, and the panels load.
async function connect() {
  try {
    await loadCatalog();
  } catch (err) {
    if (err.status === 401) return;
    $("tts-error").textContent = `The catalog could not be listed: ${err.message}`;
  }
  $("key-form").hidden = true;
  window.dispatchEvent(new Event("voicefleet:connected"));
}

function initKeyForm() {
  window.addEventListener("voicefleet:key-needed", ({ detail }) => askForKey(detail));
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    setApiKey($("api-key").value.trim());
    $("api-key").value = "";
    $("key-reason").textContent = "Checking the key…";
    connect();
  });
}

// With keys on (config.json says so) the page asks for a key before its first API call.
async function start() {
  const { auth_required: keysOn } = await getJson("config.json");
  if (keysOn && !apiKey()) askForKey("This fleet requires an API key.");
  else await connect();
}

// Speakers and collections fill every picker; the panels call it again after a change.
export async function loadCatalog() {
  const [{ speakers }, { collections }] = await Promise.all([
    getJson("/api/speakers"),
    getJson("/api/collections"),
  ]);
  for (const s of document.querySelectorAll("select.speakers")) {
    fillSelect(s, speakers.map((sp) => [sp.id, `${sp.name} (${sp.language}, ${sp.engine})`]));
  }
  for (const s of document.querySelectorAll("select.collections")) {
    fillSelect(s, collections.map((c) => [c.id, c.name]));
  }
  window.dispatchEvent(new CustomEvent("voicefleet:catalog", { detail: { speakers, collections } }));
  return { speakers, collections };
}

function initLanguages() {
  for (const s of document.querySelectorAll("select.languages")) {
    fillSelect(s, LANGUAGES.map((code) => [code, code]));
    [...s.options].find((o) => o.value === "en").defaultSelected = true; // what a form's reset goes back to
    s.value = "en";
  }
}

initTabs();
initKeyForm();
initLanguages();
initTranscribe();
initLive();
initChat();
initVoices();
initTts(loadCatalog);
refreshStatus();
setInterval(refreshStatus, 10_000);
start();
