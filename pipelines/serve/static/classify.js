// Classify page: send the chosen or dropped file to /api/classify and draw one bar per genre.
"use strict";

const drop = document.getElementById("drop");
const input = document.getElementById("file");
const statusLine = document.getElementById("status");

function showBars(container, scores) {
  container.replaceChildren();
  const best = Math.max(...scores.map((s) => s.score), 1e-9);
  scores.forEach((s, i) => {
    const { label, track, bar, value } = barRow(s.name, s.score / best, s.score.toFixed(3),
                                                i === 0 ? "bar best" : "bar");
    bar.title = `${s.name}: ${s.score.toFixed(4)}`;
    container.append(label, track, value);
  });
}

async function classify(file) {
  statusLine.className = "muted";
  statusLine.textContent = `Scoring ${file.name} ...`;
  document.getElementById("result").hidden = true;
  const form = new FormData();
  form.append("file", file, file.name);
  let answer;
  try {
    const response = await fetch("/api/classify", { method: "POST", body: form });
    answer = await response.json();
    if (!response.ok) throw new Error(answer.error || response.statusText);
  } catch (error) {
    statusLine.className = "error";
    statusLine.textContent = `Could not classify ${file.name}: ${error.message}`;
    return;
  }
  statusLine.textContent = "";
  document.getElementById("genre").textContent = answer.genre;
  const score = answer.scores[0].score.toFixed(2);
  const bar = answer.confident_score.toFixed(2);
  document.getElementById("confidence").textContent = answer.confident
    ? `(confident: ${score} ≥ ${bar}; at that score mgc was right 9 times in 10 on real music)`
    : `(not confident: ${score} < ${bar}; write-back leaves such a file alone by default)`;
  document.getElementById("filename").textContent = answer.filename;
  document.getElementById("patches").textContent = answer.n_patches;
  document.getElementById("model").textContent = answer.model;
  showBars(document.getElementById("bars"), answer.scores);
  // what else mgc hears: styles (under their genre), moods, voice, instruments
  document.getElementById("heard").textContent = ["styles", "moods", "voice", "instruments"]
    .filter((kind) => (answer[kind] || []).length)
    .map((kind) => `${kind}: ` + answer[kind].map((d) => `${d.parent ? d.parent + ": " : ""}${d.name} ${d.score.toFixed(2)}`).join(", "))
    .join("; ");
  document.getElementById("result").hidden = false;
}

input.addEventListener("change", () => input.files.length && classify(input.files[0]));
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  if (event.dataTransfer.files.length) classify(event.dataTransfer.files[0]);
});
