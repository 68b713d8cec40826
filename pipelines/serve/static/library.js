// Library page: genre counts, the files' own genres against mgc's (a confusion table), a
// searchable and filterable table (paged by the server), playback and nearest neighbours.
"use strict";

const PAGE = 100;
const state = { q: "", genre: "", heard: "", offset: 0, total: 0 };
const KINDS = ["styles", "moods", "voice", "instruments"];
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
  showAgreement(summary.agreement);
  for (const genre of summary.genres) {
    const option = document.createElement("option");
    option.value = option.textContent = genre;
    $("genre-filter").append(option);
  }
  for (const kind of KINDS) { // one group per kind, each name with its count of tracks
    const names = Object.entries((summary.heard || {})[kind] || {});
    if (!names.length) continue;
    const group = document.createElement("optgroup");
    group.label = kind;
    for (const [name, count] of names) {
      const option = document.createElement("option");
      option.value = `${kind}:${name}`;
      option.textContent = `${name} (${count})`;
      group.append(option);
    }
    $("heard-filter").append(group);
  }
}

// Rows: the library's genres (as the alias table maps them); columns: mgc's; the diagonal agrees.
function showAgreement(agreement) {
  if (!agreement || (!agreement.compared && !Object.keys(agreement.unknown_names).length)) return;
  $("agreement-box").hidden = false;
  const { compared, agreed } = agreement;
  $("agreement-line").textContent = compared
    ? `mgc's genre agrees with the file's own on ${agreed} of ${compared} tracks (${Math.round(100 * agreed / compared)}%).`
    : "No genre in the files is known to the alias table.";
  const rows = Object.keys(agreement.by_genre);
  // every library genre has its column too, so each row shows its diagonal cell
  const columns = [...new Set([...rows, ...rows.flatMap((g) => Object.keys(agreement.by_genre[g].mgc))])].sort();
  const head = document.createElement("tr");
  for (const text of ["file genre \\ mgc", ...columns, "agreed"]) {
    const th = document.createElement("th");
    th.textContent = text;
    head.append(th);
  }
  $("confusion").querySelector("thead").replaceChildren(head);
  const body = $("confusion").querySelector("tbody");
  body.replaceChildren();
  for (const genre of rows) {
    const entry = agreement.by_genre[genre];
    const row = document.createElement("tr");
    row.dataset.genre = genre;
    const th = document.createElement("th");
    th.textContent = genre;
    row.append(th);
    for (const column of columns) {
      const n = entry.mgc[column] || 0;
      const td = cell(row, n ? String(n) : "", "num" + (column === genre ? " agree" : ""));
      td.dataset.mgc = column;
    }
    cell(row, `${entry.agreed} of ${entry.compared}`, "num");
    body.append(row);
  }
  $("confusion").hidden = !rows.length;
  const unknown = Object.entries(agreement.unknown_names);
  $("unknown-names").textContent = unknown.length
    ? "Not compared (names the alias table does not know): "
      + unknown.map(([name, n]) => `${name} ${n}`).join(", ")
    : "";
}

async function loadTracks() {
  const params = new URLSearchParams({ q: state.q, genre: state.genre, heard: state.heard, offset: state.offset, limit: PAGE });
  const page = await getJson(`/api/tracks?${params}`);
  state.total = page.total;
  const body = $("tracks").querySelector("tbody");
  body.replaceChildren();
  for (const t of page.tracks) {
    const row = document.createElement("tr");
    row.dataset.path = t.path;
    cell(row, t.path, "path");
    cell(row, t.title || "", "title");
    cell(row, t.artist || "", "artist");
    cell(row, t.album || "", "album");
    cell(row, (t.file_genres || []).join(", "), "file-genres");
    cell(row, t.genre, "genre");
    cell(row, t.genre_score.toFixed(3), "num");
    // where the genre came from: the audio, its album, its artist's other albums
    cell(row, (t.genre_from || "audio").split("+").join(", "), "from");
    cell(row, t.genres.map((g) => `${g.name} ${g.score.toFixed(2)}`).join(", "));
    cell(row, KINDS.flatMap((k) => (t[k] || []).map((d) => d.parent ? `${d.parent}: ${d.name}` : d.name)).join(", "), "heard");
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
$("heard-filter").addEventListener("change", () => {
  state.heard = $("heard-filter").value;
  state.offset = 0;
  loadTracks();
});
$("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); loadTracks(); });
$("next").addEventListener("click", () => { state.offset += PAGE; loadTracks(); });

loadSummary().then(loadTracks).catch((error) => {
  $("shown").className = "error";
  $("shown").textContent = `Could not load the library: ${error.message}`;
});
