// Microphone capture and 24 kHz PCM playback through pcm-worklet.js, each with a level for its meter.

const WORKLET = new URL("./pcm-worklet.js", import.meta.url);
export const TTS_RATE = 24000;

export const rms = (f32) => Math.sqrt(f32.reduce((sum, x) => sum + x * x, 0) / (f32.length || 1));

// The microphone as 100 ms chunks of 16 kHz Float32 samples; returns `stop()`.
export async function startMic(onChunk) {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const context = new AudioContext();
  await context.audioWorklet.addModule(WORKLET);
  const source = context.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(context, "pcm-capture");
  node.port.onmessage = ({ data }) => onChunk(data);
  source.connect(node).connect(context.destination); // pulled by the graph; its output is silence
  return () => {
    stream.getTracks().forEach((t) => t.stop());
    context.close();
  };
}

// Plays int16 24 kHz mono PCM as it arrives; `peak` is the loudest output the analyser has measured.
export class PcmPlayer {
  static async create(onLevel = () => {}) {
    const context = new AudioContext({ sampleRate: TTS_RATE });
    await context.audioWorklet.addModule(WORKLET);
    return new PcmPlayer(context, onLevel);
  }

  constructor(context, onLevel) {
    this.context = context;
    this.node = new AudioWorkletNode(context, "pcm-player");
    this.analyser = context.createAnalyser();
    this.analyser.fftSize = 1024;
    this.node.connect(this.analyser).connect(context.destination);
    this.peak = 0;
    this.pushed = 0; // samples queued so far
    this.consumed = 0; // samples the worklet has played or dropped
    this.onDrained = () => {};
    this.onCleared = () => {};
    this.node.port.onmessage = ({ data }) => {
      this.consumed = data.consumed;
      if ("dropped" in data) this.onCleared(data.dropped / TTS_RATE);
      if (this.idle) this.onDrained();
    };
    const buffer = new Float32Array(this.analyser.fftSize);
    this.timer = setInterval(() => {
      this.analyser.getFloatTimeDomainData(buffer);
      const level = buffer.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      this.peak = Math.max(this.peak, level);
      onLevel(level, this.peak);
    }, 50);
  }

  push(arrayBuffer) {
    const i16 = new Int16Array(arrayBuffer);
    const f32 = Float32Array.from(i16, (x) => x / 32768);
    this.pushed += f32.length;
    this.context.resume();
    this.node.port.postMessage(f32, [f32.buffer]);
  }

  get idle() {
    return this.consumed >= this.pushed;
  }

  // Drops what is queued (barge-in); resolves to the seconds of audio that were not played.
  clear() {
    return new Promise((resolve) => {
      this.onCleared = resolve;
      this.node.port.postMessage("clear");
    });
  }

  close() {
    clearInterval(this.timer);
    this.context.close();
  }
}
