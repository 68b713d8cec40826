// One row of a horizontal bar chart (label, bar, value), shared by both pages.
"use strict";

function barRow(name, fraction, valueText, barClass = "bar") {
  const label = document.createElement("div");
  label.className = "label";
  label.textContent = name;
  const track = document.createElement("div");
  track.className = "track";
  const bar = document.createElement("div");
  bar.className = barClass;
  bar.style.width = `${100 * fraction}%`;
  bar.dataset.genre = name;
  track.append(bar);
  const value = document.createElement("div");
  value.className = "value";
  value.textContent = valueText;
  return { label, track, bar, value };
}
