// AudioWorklet processors: "pcm-capture" turns the microphone into 16 kHz Float32 chunks of 100 ms (the
// reference's recommended chunk), "pcm-player" plays queued 24 kHz PCM and drops its queue on "clear"
// (answering with how many samples it dropped).

const CAPTURE_RATE = 16000;
const CHUNK = 1600;

class PcmCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / CAPTURE_RATE; // input samples per output sample
    this.pos = 0;
    this.chunk = new Float32Array(CHUNK);
    this.filled = 0;
  }

  process(inputs) {
    const input = inputs[0][0];
    if (!input) return true;
    // Linear interpolation from the context's rate down to 16 kHz.
    while (this.pos < input.length - 1) {
      const i = Math.floor(this.pos);
      const frac = this.pos - i;
      this.chunk[this.filled++] = input[i] * (1 - frac) + input[i + 1] * frac;
      if (this.filled === CHUNK) {
        this.port.postMessage(this.chunk);
        this.chunk = new Float32Array(CHUNK);
        this.filled = 0;
      }
      this.pos += this.step;
    }
    this.pos -= input.length - 1;
    return true;
  }
}

class PcmPlayer extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = [];
    this.offset = 0;
    this.consumed = 0; // samples played or dropped, reported whenever the queue empties
    this.port.onmessage = ({ data }) => {
      if (data === "clear") {
        const dropped = this.queue.reduce((n, q) => n + q.length, 0) - this.offset;
        this.consumed += dropped;
        this.queue = [];
        this.offset = 0;
        this.port.postMessage({ consumed: this.consumed, dropped });
      } else {
        this.queue.push(data);
      }
    };
  }

  process(_, outputs) {
    const out = outputs[0][0];
    let n = 0;
    while (n < out.length && this.queue.length) {
      const head = this.queue[0];
      const take = Math.min(out.length - n, head.length - this.offset);
      out.set(head.subarray(this.offset, this.offset + take), n);
      n += take;
      this.offset += take;
      this.consumed += take;
      if (this.offset === head.length) {
        this.queue.shift();
        this.offset = 0;
        if (!this.queue.length) this.port.postMessage({ consumed: this.consumed });
      }
    }
    out.fill(0, n);
    return true;
  }
}

registerProcessor("pcm-capture", PcmCapture);
registerProcessor("pcm-player", PcmPlayer);
