// The voice agent over WS /ws/voice-chat: a config frame first, mic audio after {"type":"ready"}, the
// agent's 24 kHz PCM played through the AudioWorklet and dropped on barge-in ("interrupted").
import { openSocket, toBase64 } from "../api.js";
import { PcmPlayer, startMic } from "../audio.js";

export async function startWs(config, { onEvent, onLevel, onMic }) {
  const player = await PcmPlayer.create(onLevel);
  const ws = openSocket("/ws/voice-chat");
  let stopMic = null;
  const stop = () => {
    stopMic?.();
    stopMic = null;
    ws.onclose = null;
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "end" }));
    ws.close();
    player.close();
  };
  ws.onopen = () => ws.send(JSON.stringify({ type: "config", ...config }));
  ws.onmessage = async ({ data }) => {
    if (data instanceof ArrayBuffer) { player.push(data); onEvent({ type: "audio", bytes: data.byteLength }); return; }
    const msg = JSON.parse(data);
    if (msg.type === "interrupted") player.clear().then((seconds) => onEvent({ type: "playback_dropped", seconds }));
    if (msg.type === "ready") {
      stopMic = await startMic((chunk) => {
        onMic(chunk);
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ audio_event: { audio_base_64: toBase64(chunk) } }));
      });
    }
    onEvent(msg);
  };
  ws.onclose = () => onEvent({ type: "closed" });
  ws.onerror = () => onEvent({ type: "error", source: "socket", message: "the voice-chat WebSocket failed" });
  return {
    sendText: (text) => ws.send(JSON.stringify({ type: "text_input", text })),
    stop,
    player,
  };
}
