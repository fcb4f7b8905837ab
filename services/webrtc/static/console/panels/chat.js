// Voice chat: the agent over WebSocket or WebRTC, its transcript, text and voice, and its latencies.
import { socketError } from "../api.js";
import { rms } from "../audio.js";
import { $, el, guarded } from "../ui.js";
import { startWebrtc } from "./chat-webrtc.js";
import { startWs } from "./chat-ws.js";

const CHART_MAX_MS = 3000;
const AUDIBLE_LEVEL = 0.01; // the agent's WebRTC track is silent between replies
let call = null;
let agentLine = null;
let interruptNote = null;
let turn = null; // the current turn's latencies: server steps, and the first audio measured here

function log(cls, text) {
  const item = el("li", { class: cls }, text);
  $("chat-log").append(item);
  item.scrollIntoView({ block: "nearest" });
  return item;
}

function setState(state) {
  $("chat-state").textContent = state;
  $("chat-state").dataset.state = state;
}

function chartTurn() {
  const rows = Object.entries(turn.steps).map(([step, ms]) =>
    el("div", { class: "bar-row" }, el("span", {}, step),
      el("meter", { min: 0, max: CHART_MAX_MS, value: Math.min(ms, CHART_MAX_MS), "aria-label": `${step} latency` }),
      el("span", { class: "latency", "data-step": step }, `${ms} ms`)));
  turn.node.replaceChildren(el("h3", {}, `turn ${turn.index}`), ...rows);
}

function newTurn() {
  const index = $("chat-latency").children.length + 1;
  turn = { index, started: performance.now(), steps: {}, node: el("div", { class: "turn-latency" }) };
  $("chat-latency").prepend(turn.node);
  while ($("chat-latency").children.length > 5) $("chat-latency").lastChild.remove();
}

function measure(step, ms) {
  if (!turn || step in turn.steps) return;
  turn.steps[step] = ms;
  chartTurn();
}

const firstAudioHere = () => turn && measure("first audio (here)", Math.round(performance.now() - turn.started));

const HANDLERS = {
  ready: () => { setState("listening"); $("chat-text").disabled = false; $("chat-send").disabled = false; },
  transcript: (msg) => {
    if (!msg.is_final) return;
    const lines = $("chat-log").querySelectorAll("li.user");
    if (msg.replaces_previous && lines.length) {
      // The user went on after a turn the turn model had ended: the whole turn replaces the fragment.
      lines[lines.length - 1].textContent = msg.text;
    } else {
      log("user transcription", msg.text);
    }
    agentLine = null;
    newTurn();
  },
  thinking: () => setState("thinking"),
  agent_text: (msg) => {
    agentLine ??= log("agent agent-text", "");
    agentLine.textContent += msg.text;
    if (turn) measure("first text (here)", Math.round(performance.now() - turn.started));
  },
  audio: () => { setState("speaking"); firstAudioHere(); },
  agent_end: () => { agentLine = null; setState("listening"); },
  interrupted: () => { interruptNote = log("note interrupted", "(interrupted: barge-in)"); agentLine = null; },
  playback_dropped: (msg) => {
    if (!interruptNote) return;
    interruptNote.dataset.dropped = msg.seconds.toFixed(2);
    interruptNote.textContent += `: ${msg.seconds.toFixed(1)} s of the reply's queued audio dropped`;
  },
  latency: (msg) => measure(msg.step, parseInt(msg.value, 10)),
  error: (msg) => log("note error", `error (${msg.source || "server"}): ${socketError(msg)}`),
  disconnect: (msg) => { log("note", `the agent ended the session (${msg.reason})`); hangUp(); },
  closed: () => hangUp(),
};

function configOf(transport) {
  const pick = (id) => $(id).value.trim() || undefined;
  const common = { language: pick("chat-language"), speaker_id: pick("chat-speaker"), collection_id: pick("chat-collection") };
  if (transport === "webrtc") return { ...common, user_system_prompt: pick("chat-prompt") };
  return { ...common, llm_base_url: pick("chat-llm-url"), llm_model: pick("chat-llm-model") };
}

async function start() {
  const transport = $("chat-transport").value;
  const handlers = {
    onEvent: (msg) => HANDLERS[msg.type]?.(msg),
    onLevel: (level, peak) => {
      $("chat-state").dataset.level = level.toFixed(3);
      $("chat-state").dataset.peak = peak.toFixed(3);
      if (transport === "webrtc" && level > AUDIBLE_LEVEL) firstAudioHere();
    },
    onMic: (chunk) => { $("chat-state").dataset.mic = rms(chunk).toFixed(3); },
  };
  setState("connecting");
  $("chat-start").disabled = true;
  $("chat-stop").disabled = false;
  const config = configOf(transport);
  try {
    call = transport === "webrtc"
      ? await startWebrtc(config, handlers, $("chat-audio"))
      : await startWs(config, handlers);
  } catch (err) {
    hangUp();
    throw err;
  }
}

function hangUp() {
  const current = call;
  call = null;
  current?.stop();
  setState("idle");
  $("chat-start").disabled = false;
  $("chat-stop").disabled = true;
  $("chat-text").disabled = true;
  $("chat-send").disabled = true;
}

export function initChat() {
  $("chat-form").addEventListener("submit", (e) => { e.preventDefault(); guarded($("chat-error"), start); });
  $("chat-stop").addEventListener("click", hangUp);
  $("chat-text-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("chat-text").value.trim();
    if (!text || !call) return;
    call.sendText(text);
    log("user typed", text);
    newTurn();
    $("chat-text").value = "";
  });
}
