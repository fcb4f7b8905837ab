// Voices: /voice/register, /voice/verify/{id}, /voice/anti-spoof, /voice/profile, /voice/speakers.
import { formOf, getJson, request } from "../api.js";
import { $, el, fillSelect, guarded, renderProfile } from "../ui.js";

const THRESHOLD = 3.5; // score > 3.5 → ACCEPT (AS-Norm)

async function loadPrints() {
  const { speakers } = await getJson("/voice/speakers");
  $("vo-prints").tBodies[0].replaceChildren(...speakers.map((s) =>
    el("tr", { "data-id": s.speaker_id },
      el("td", {}, s.name), el("td", {}, s.description), el("td", { class: "mono" }, s.speaker_id),
      el("td", {}, el("button", {
        type: "button", "aria-label": `Delete voice print ${s.name}`,
        onclick: () => guarded($("vo-error"), async () => {
          await request(`/voice/speakers/${s.speaker_id}`, { method: "DELETE" });
          await loadPrints();
        }),
      }, "Delete")))));
  fillSelect($("vo-ver-speaker"), speakers.map((s) => [s.speaker_id, s.name]));
}

function table(headers, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, String(c)))))));
}

const show = (...nodes) => $("vo-result").replaceChildren(...nodes);

async function register() {
  const form = formOf({ file: $("vo-reg-file").files[0], name: $("vo-reg-name").value, description: $("vo-reg-desc").value });
  const body = await getJson("/voice/register", { method: "POST", form });
  show(el("p", {}, `Registered ${$("vo-reg-name").value}: ${body.speaker_id}`));
  await loadPrints();
  $("vo-ver-speaker").value = body.speaker_id;
}

async function verify() {
  const id = $("vo-ver-speaker").value;
  const body = await getJson(`/voice/verify/${id}`, { method: "POST", form: formOf({ files: [...$("vo-ver-files").files] }) });
  show(el("h3", {}, `Verification (ACCEPT above ${THRESHOLD})`),
    table(["file", "score", "verdict"], body.results.map((r) => [r.file, r.score.toFixed(2), r.verdict])));
}

async function antiSpoof() {
  const form = formOf({ files: [...$("vo-spoof-files").files], mode: $("vo-spoof-mode").value });
  const body = await getJson("/voice/anti-spoof", { method: "POST", form });
  show(el("h3", {}, `Anti-spoof (${$("vo-spoof-mode").value})`),
    table(["file", "result", "score", "threshold", "confidence", "qa"], body.results.map((r) =>
      [r.file, r.result, r.score.toFixed(3), r.threshold, r.confidence.toFixed(2), r.qa_passed ? "passed" : "failed"])));
}

async function profile() {
  const body = await getJson("/voice/profile", { method: "POST", form: formOf({ file: $("vo-profile-file").files[0] }) });
  const bars = el("div", { class: "profile" });
  renderProfile(bars, body.properties, body.models);
  show(el("h3", {}, `Profile (${body.voiced_seconds.toFixed(1)} s voiced)`), bars);
}

export function initVoices() {
  const on = (id, action) => $(id).addEventListener("submit", (e) => {
    e.preventDefault();
    guarded($("vo-error"), action);
  });
  on("vo-register", register);
  on("vo-verify", verify);
  on("vo-spoof", antiSpoof);
  on("vo-profile", profile);
  window.addEventListener("voicefleet:connected", () => guarded($("vo-error"), loadPrints));
}
