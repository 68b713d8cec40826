// Library page: genre counts, a searchable and filterable table (paged by the server),
// playback and nearest neighbours of a track.
"use strict";

const PAGE = 100;
const state = { q: "", genre: "", offset: 0, total: 0 };
const $ = (id) => document.getElementById(id);

async function getJson(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.append(td);
  return td;
}

function button(label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

async function loadSummary() {
  const summary = await getJson("/api/summary");
  $("track-count").textContent = summary.tracks;
  $("model").textContent = summary.model;
  const most = Math.max(...summary.counts.map((c) => c.count), 1);
  const chart = $("counts");
  for (const c of summary.counts.filter((c) => c.count > 0).sort((a, b) => b.count - a.count)) {
    const { label, track, value } = barRow(c.genre, c.count / most, c.count);
    for (const part of [label, track]) part.addEventListener("click", () => filterGenre(c.genre));
    chart.append(label, track, value);
  }
  for (const genre of summary.genres) {
    const option = document.createElement("option");
    option.value = option.textContent = genre;
    $("genre-filter").append(option);
  }
}

async function loadTracks() {
  const params = new URLSearchParams({ q: state.q, genre: state.genre, offset: state.offset, limit: PAGE });
  const page = await getJson(`/api/tracks?${params}`);
  state.total = page.total;
  const body = $("tracks").querySelector("tbody");
  body.replaceChildren();
  for (const t of page.tracks) {
    const row = document.createElement("tr");
    row.dataset.path = t.path;
    cell(row, t.path, "path");
    cell(row, t.genre, "genre");
    cell(row, t.genre_score.toFixed(3), "num");
    cell(row, t.genres.map((g) => `${g.name} ${g.score.toFixed(2)}`).join(", "));
    cell(row, t.duration_s == null ? "" : `${t.duration_s.toFixed(1)} s`, "num");
    const actions = cell(row, "");
    actions.append(button("Play", () => play(t.path)), " ", button("Similar", () => neighbours(t.path)));
    body.append(row);
  }
  const last = Math.min(state.offset + PAGE, state.total);
  $("shown").textContent = state.total ? `${state.offset + 1}-${last} of ${state.total}` : "no track matches";
  $("prev").disabled = state.offset === 0;
  $("next").disabled = last >= state.total;
}

function play(path) {
  $("playing").textContent = path;
  $("player").src = `/api/audio?${new URLSearchParams({ path })}`;
  $("player-box").hidden = false;
  $("player").play().catch(() => {}); // autoplay may be refused: the controls remain
}

async function neighbours(path) {
  const box = $("neighbours-box");
  const body = $("neighbours").querySelector("tbody");
  $("neighbours-of").textContent = path;
  body.replaceChildren();
  box.hidden = false;
  try {
    const answer = await getJson(`/api/similar?${new URLSearchParams({ path, k: 10 })}`);
    for (const n of answer.neighbours) {
      const row = document.createElement("tr");
      cell(row, n.similarity.toFixed(3), "num");
      cell(row, n.genre);
      cell(row, n.path, "path");
      cell(row, "").append(button("Play", () => play(n.path)), " ",
        button("Similar", () => neighbours(n.path)));
      body.append(row);
    }
  } catch (error) {
    const row = document.createElement("tr");
    cell(row, error.message, "error").colSpan = 4;
    body.append(row);
  }
}

let typing;
$("search").addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(() => { state.q = $("search").value; state.offset = 0; loadTracks(); }, 200);
});
function filterGenre(genre) {
  $("genre-filter").value = genre;
  $("genre-filter").dispatchEvent(new Event("change"));
}

$("genre-filter").addEventListener("change", () => {
  state.genre = $("genre-filter").value;
  state.offset = 0;
  loadTracks();
});
$("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); loadTracks(); });
$("next").addEventListener("click", () => { state.offset += PAGE; loadTracks(); });

loadSummary().then(loadTracks).catch((error) => {
  $("shown").className = "error";
  $("shown").textContent = `Could not load the library: ${error.message}`;
});
