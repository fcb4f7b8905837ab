// The same agent over WebRTC: GET /ice-servers, POST /offer, POST /ice (candidates found before the pc_id
// are queued), text on the "chat" DataChannel, the agent's voice on the remote track.
import { getJson } from "../api.js";

const post = (path, body) => getJson(path, { method: "POST", json: body });

function meter(stream, onLevel) {
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  let peak = 0;
  const timer = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    const level = samples.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    peak = Math.max(peak, level);
    onLevel(level, peak);
  }, 50);
  return () => { clearInterval(timer); context.close(); };
}

export async function startWebrtc(config, { onEvent, onLevel }, audio) {
  const pc = new RTCPeerConnection({ ...(await getJson("/ice-servers")), bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
  let stopMeter = () => {};
  const stop = () => { stopMeter(); pc.onconnectionstatechange = null; pc.close(); };
  pc.onconnectionstatechange = () => ["failed", "closed"].includes(pc.connectionState) && onEvent({ type: "closed" });
  pc.addTransceiver("audio", { direction: "sendrecv" });
  const dc = pc.createDataChannel("chat");
  dc.onopen = () => onEvent({ type: "ready" });
  dc.onmessage = ({ data }) => {
    const msg = JSON.parse(data);
    onEvent(msg.type === "transcription"
      ? { type: "transcript", text: msg.text, is_final: true, replaces_previous: msg.replaces_previous }
      : msg);
  };
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  stream.getTracks().forEach((t) => pc.addTrack(t, stream));
  pc.ontrack = ({ streams }) => {
    audio.srcObject = streams[0];
    audio.play().catch(() => { /* autoplay refused: the controls can start it */ });
    stopMeter = meter(streams[0], onLevel);
  };
  let pcId = null;
  const early = [];
  pc.onicecandidate = ({ candidate }) => {
    const body = candidate
      ? { candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex }
      : null;
    if (pcId) post("/ice", { pc_id: pcId, candidate: body }).catch((err) => onEvent({ type: "error", source: "ice", message: err.message }));
    else early.push(body);
  };
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const answer = await post("/offer", { sdp: offer.sdp, type: offer.type, ...config });
  pcId = answer.pc_id;
  await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
  for (const body of early) await post("/ice", { pc_id: pcId, candidate: body });
  window.addEventListener("pagehide", () => pc.close(), { once: true });
  return { sendText: (text) => dc.send(text), stop };
}
