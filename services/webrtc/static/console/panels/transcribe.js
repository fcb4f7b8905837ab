// Transcribe: POST /transcribe, or /transcribe-with-property for speakers with their words.
import { formOf, getJson } from "../api.js";
import { $, el, guarded, seconds } from "../ui.js";

let audioUrl = null;

function stamp(t, sep) {
  const ms = Math.round(t * 1000);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor(ms / 60_000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}${sep}${pad(ms % 1000, 3)}`;
}

// Subtitles from the segments (or speaker turns) the answer holds.
export function subtitles(cues, vtt) {
  const lines = cues.map((c, i) => {
    const text = c.speaker ? `${c.speaker}: ${c.text.trim()}` : c.text.trim();
    const range = `${stamp(c.start, vtt ? "." : ",")} --> ${stamp(c.end, vtt ? "." : ",")}`;
    return vtt ? `${range}\n${text}\n` : `${i + 1}\n${range}\n${text}\n`;
  });
  return (vtt ? "WEBVTT\n\n" : "") + lines.join("\n");
}

function setDownload(link, text, type) {
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([text], { type }));
}

function playFrom(t) {
  const audio = $("tr-audio");
  audio.currentTime = t;
  audio.play().catch(() => { /* autoplay refused: the position is set */ });
}

function renderTimeline(dialogues) {
  const speakers = [...new Set(dialogues.map((d) => d.speaker))];
  const rows = dialogues.map((d) =>
    el("div", { class: `turn spk${speakers.indexOf(d.speaker) % 6}`, "data-speaker": d.speaker },
      el("span", { class: "who" }, `${d.speaker} ${seconds(d.start)}`),
      ...d.words.map((w) =>
        el("button", { type: "button", class: "word", title: seconds(w.start), onclick: () => playFrom(w.start) }, w.word))));
  $("tr-timeline").replaceChildren(el("h2", {}, `Speakers (${speakers.length})`), ...rows);
}

function render(data, diarized) {
  const cues = diarized ? data.dialogues : data.segments;
  $("tr-text").textContent = diarized ? data.dialogues.map((d) => d.text).join(" ") : data.text;
  $("tr-meta").textContent = [
    data.duration !== undefined ? `duration ${seconds(data.duration)}` : null,
    `processing ${seconds(data.processing_time)}`,
    data.language ? `language ${data.language}` : null,
  ].filter(Boolean).join(" · ");
  $("tr-segments").tBodies[0].replaceChildren(...cues.map((c) =>
    el("tr", {}, el("td", {}, seconds(c.start)), el("td", {}, seconds(c.end)),
      el("td", {}, c.speaker || ""), el("td", {}, c.text))));
  if (diarized) renderTimeline(data.dialogues);
  else $("tr-timeline").replaceChildren();
  setDownload($("tr-srt"), subtitles(cues, false), "application/x-subrip");
  setDownload($("tr-vtt"), subtitles(cues, true), "text/vtt");
  $("tr-result").hidden = false;
}

async function transcribe(file) {
  const diarized = $("tr-diarize").checked;
  const fields = { file, language: $("tr-language").value.trim() };
  if (diarized) fields.num_speakers = $("tr-speakers").value;
  const started = performance.now();
  const tick = setInterval(() => {
    $("tr-elapsed").textContent = `${((performance.now() - started) / 1000).toFixed(0)} s`;
  }, 250);
  $("tr-progress").hidden = false;
  $("tr-result").hidden = true;
  if (audioUrl) URL.revokeObjectURL(audioUrl);
  audioUrl = URL.createObjectURL(file);
  $("tr-audio").src = audioUrl;
  try {
    const path = diarized ? "/transcribe-with-property" : "/transcribe";
    render(await getJson(path, { method: "POST", form: formOf(fields) }), diarized);
  } finally {
    clearInterval(tick);
    $("tr-progress").hidden = true;
  }
}

export function initTranscribe() {
  const input = $("tr-file");
  $("tr-form").addEventListener("submit", (e) => {
    e.preventDefault();
    guarded($("tr-error"), () => transcribe(input.files[0]));
  });
  const drop = $("tr-drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (!e.dataTransfer.files.length) return;
    input.files = e.dataTransfer.files;
    guarded($("tr-error"), () => transcribe(input.files[0]));
  });
}
