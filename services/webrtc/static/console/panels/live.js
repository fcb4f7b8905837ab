// Live: microphone → WS /ws/transcribe/vad (partials, finals, SSAP), with the end-of-turn latency measured
// from the last voiced chunk sent to the final's arrival.
import { openSocket, socketError, toBase64 } from "../api.js";
import { rms, startMic } from "../audio.js";
import { $, el, renderProfile } from "../ui.js";

const VOLUME_THRESHOLD = 0.01; // the server's RMS gate (~-40 dBFS)
let session = null;

function setVad(state) {
  $("live-vad").textContent = state;
  $("live-vad").dataset.state = state;
}

function onEvent(msg) {
  if (msg.type === "ssap") { renderProfile($("live-profile"), msg.properties); return; }
  if (msg.type === "error") { $("live-error").textContent = socketError(msg); return; }
  if (msg.type !== "transcript") return;
  if (!msg.is_final) { $("live-partial").textContent = msg.text; return; }
  const latency = session?.lastVoiced ? Math.round(performance.now() - session.lastVoiced) : null;
  if (session) session.lastVoiced = null;
  $("live-partial").textContent = "";
  const finals = $("live-finals");
  if (msg.replaces_previous && finals.lastElementChild) finals.lastElementChild.remove(); // the whole turn replaces it
  finals.append(el("li", { class: "final" }, el("span", { class: "text" }, msg.text),
    latency === null ? null : el("span", { class: "latency" }, ` end of turn ${latency} ms`)));
  setVad("end of turn");
}

function send(chunk) {
  const level = rms(chunk);
  $("live-level").value = Math.min(1, level * 5);
  if (level > VOLUME_THRESHOLD) {
    session.lastVoiced = performance.now();
    setVad("speech");
  } else if (session.lastVoiced) {
    setVad("silence");
  }
  if (session.ws.readyState === WebSocket.OPEN) {
    session.ws.send(JSON.stringify({ audio_event: { audio_base_64: toBase64(chunk) } }));
  }
}

async function start() {
  const ssap = $("live-ssap").checked;
  const ws = openSocket(`/ws/transcribe/vad${ssap ? "?ssap=true" : ""}`);
  session = { ws, lastVoiced: null, stopMic: null };
  ws.onmessage = ({ data }) => onEvent(JSON.parse(data));
  ws.onclose = () => session?.ws === ws && stop();
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error("the streaming WebSocket failed"));
  });
  session.stopMic = await startMic(send);
  $("live-start").disabled = true;
  $("live-stop").disabled = false;
  setVad("listening");
}

function stop() {
  if (!session) return;
  const { ws, stopMic } = session;
  stopMic?.();
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "end" }));
  session = null;
  $("live-start").disabled = false;
  $("live-stop").disabled = true;
  $("live-level").value = 0;
  setVad("idle");
}

export function initLive() {
  $("live-start").addEventListener("click", () => start().catch((err) => {
    $("live-error").textContent = err.message;
    stop();
  }));
  $("live-stop").addEventListener("click", stop);
  $("live-ssap").addEventListener("change", () => {
    if (session) session.ws.send(JSON.stringify({ type: "config", ssap: $("live-ssap").checked }));
  });
}
