// TTS and catalog: WS /ws/tts to speak; /api/speakers and /api/collections to list, create, edit, delete.
import { apiKey, formOf, LANGUAGES, openSocket, request, socketError } from "../api.js";
import { PcmPlayer, TTS_RATE } from "../audio.js";
import { $, el, fillSelect, guarded } from "../ui.js";

let player = null;
let reload = async () => {};
// A new speaker or collection names its owner: with keys off "default" (shared), with keys on the key's user.
const owner = () => (apiKey() ? {} : { user_id: "default" });

function speak() {
  const ws = openSocket("/ws/tts");
  const state = $("tts-state");
  const payload = { target_text: $("tts-text").value, language: $("tts-language").value };
  if ($("tts-speaker").value) payload.speaker_id = $("tts-speaker").value;
  if ($("tts-collection").value) payload.collection_id = $("tts-collection").value;
  const first = player.pushed;
  return new Promise((resolve, reject) => {
    ws.onopen = () => { state.textContent = "synthesising"; ws.send(JSON.stringify(payload)); };
    ws.onmessage = ({ data }) => {
      if (data instanceof ArrayBuffer) { player.push(data); return; }
      const msg = JSON.parse(data);
      if (msg.type === "end") {
        const played = () => { state.textContent = "played"; };
        state.textContent = `playing ${((player.pushed - first) / TTS_RATE).toFixed(1)} s`;
        player.onDrained = played;
        if (player.idle) played();
        ws.close();
        resolve();
      } else if (msg.type === "error") {
        state.textContent = "error";
        reject(new Error(socketError(msg)));
      }
    };
    ws.onerror = () => reject(new Error("the TTS WebSocket failed"));
  });
}

function renderSpeakers(speakers) {
  $("tts-speakers").tBodies[0].replaceChildren(...speakers.map((s) =>
    el("tr", { "data-id": s.id },
      el("td", s.reference_text ? { title: s.reference_text } : {}, s.name + (s.default ? " (default)" : "")),
      el("td", {}, s.engine), el("td", {}, s.language), el("td", {}, s.user_id),
      el("td", {}, ...(s.reference_audio ? [
        el("button", { type: "button", "aria-label": `Replace the recording of ${s.name}`, onclick: () => editClone(s) }, "Replace"),
        el("button", { type: "button", "aria-label": `Delete speaker ${s.name}`, onclick: () => removeSpeaker(s) }, "Delete"),
      ] : [])))));
  const selects = LANGUAGES.map((code) => {
    const select = el("select", { id: `col-lang-${code}`, name: code }, el("option", { value: "" }, "none"));
    fillSelect(select, speakers.filter((s) => s.language === code).map((s) => [s.id, s.name]));
    return el("div", { class: "lang-pick" }, el("label", { htmlFor: select.id }, code), select);
  });
  $("col-langs").replaceChildren(el("legend", {}, "Speaker per language"), ...selects);
}

function renderCollections(collections) {
  $("tts-collections").tBodies[0].replaceChildren(...collections.map((c) =>
    el("tr", { "data-id": c.id },
      el("td", { class: "name" }, c.name), el("td", {}, c.description || ""),
      el("td", {}, Object.entries(c.langs || {}).map(([code, s]) => `${code}: ${s.name}`).join(", ")),
      el("td", {},
        el("button", { type: "button", "aria-label": `Edit collection ${c.name}`, onclick: () => editCollection(c) }, "Edit"),
        el("button", { type: "button", "aria-label": `Delete collection ${c.name}`, onclick: () => removeCollection(c) }, "Delete")))));
}

function editCollection(c) {
  $("col-id").value = c.id;
  $("col-name").value = c.name;
  $("col-desc").value = c.description || "";
  for (const code of LANGUAGES) $(`col-lang-${code}`).value = c.langs?.[code]?.id || "";
  $("col-title").textContent = `Edit collection ${c.name}`;
  $("col-save").textContent = "Save";
  $("col-name").focus();
}

function resetCollectionForm() {
  $("col-id").value = "";
  $("col-title").textContent = "New collection";
  $("col-save").textContent = "Create";
}

async function saveCollection() {
  const langs = Object.fromEntries(LANGUAGES.map((c) => [c, $(`col-lang-${c}`).value]).filter(([, id]) => id));
  const body = { name: $("col-name").value, description: $("col-desc").value, langs };
  const id = $("col-id").value;
  if (id) await request(`/api/collections/${id}`, { method: "PUT", json: body });
  else await request("/api/collections", { method: "POST", json: { ...body, ...owner() } });
  $("col-form").reset();
  resetCollectionForm();
  await reload();
}

async function removeCollection(c) {
  await guarded($("tts-error"), async () => {
    await request(`/api/collections/${c.id}`, { method: "DELETE" });
    await reload();
  });
}

async function removeSpeaker(s) {
  await guarded($("tts-error"), async () => {
    await request(`/api/speakers/${s.id}`, { method: "DELETE" });
    await reload();
  });
}

// The clone form edits a cloned speaker's recording and its transcript (its name and language stay).
function editClone(s) {
  $("clone-id").value = s.id;
  $("clone-name").value = s.name;
  $("clone-language").value = s.language;
  $("clone-text").value = s.reference_text || "";
  $("clone-name").disabled = $("clone-language").disabled = true;
  $("clone-title").textContent = `Replace the recording of ${s.name}`;
  $("clone-save").textContent = "Replace recording";
  $("clone-text").focus();
}

function resetCloneForm() {
  $("clone-id").value = "";
  $("clone-name").disabled = $("clone-language").disabled = false;
  $("clone-title").textContent = "Add a cloned speaker";
  $("clone-save").textContent = "Add speaker";
}

async function saveClone() {
  const recording = { reference_text: $("clone-text").value, reference_audio: $("clone-file").files[0] };
  const id = $("clone-id").value;
  if (id) {
    await request(`/api/speakers/${id}/reference-audio`, { method: "PUT", form: formOf(recording) });
  } else {
    const speaker = { name: $("clone-name").value, language: $("clone-language").value, ...recording, ...owner() };
    await request("/api/speakers", { method: "POST", form: formOf(speaker) });
  }
  $("clone-form").reset();
  await reload();
}

export function initTts(loadCatalog) {
  reload = loadCatalog;
  window.addEventListener("voicefleet:catalog", ({ detail }) => {
    renderSpeakers(detail.speakers);
    renderCollections(detail.collections);
  });
  $("tts-form").addEventListener("submit", (e) => {
    e.preventDefault();
    guarded($("tts-error"), async () => {
      player ??= await PcmPlayer.create((_, peak) => { $("tts-state").dataset.peak = peak.toFixed(3); });
      await speak();
    });
  });
  $("col-form").addEventListener("submit", (e) => { e.preventDefault(); guarded($("tts-error"), saveCollection); });
  $("col-form").addEventListener("reset", resetCollectionForm);
  $("clone-form").addEventListener("submit", (e) => { e.preventDefault(); guarded($("tts-error"), saveClone); });
  $("clone-form").addEventListener("reset", resetCloneForm);
}
