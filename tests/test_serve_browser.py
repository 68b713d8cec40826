"""The pages of ``mgc serve`` in a real headless browser: Playwright driving Debian's chromium.

The browser is Debian's package (``apt-get install chromium``, done here when missing and we
are root), never one downloaded by ``playwright install``. Screenshots of each page are saved
to tests/artifacts/ for a human to look at.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from serve_library import OWN_TAGS

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
# on a fresh machine the first test also waits for apt-get to install chromium
pytestmark = pytest.mark.timeout(1800)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _install_chromium() -> str | None:
    """Debian's chromium at /usr/bin/chromium; None when it is there, else why it is not."""
    if os.path.exists(CHROMIUM):
        return None
    if not shutil.which("apt-get"):
        return "no /usr/bin/chromium and no apt-get to install it"
    if os.geteuid() != 0:
        return "no /usr/bin/chromium; install it as root: apt-get install -y chromium"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "chromium"]
    done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0:  # a fresh machine may have no package lists yet
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, timeout=600)
        done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0 or not os.path.exists(CHROMIUM):
        return f"apt-get install chromium failed: {done.stderr.strip()[-300:]}"
    return None


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is missing: pip install -e .[test]")
    why_not = _install_chromium()
    if why_not:
        pytest.skip(why_not)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], "JavaScript errors on the page"


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_drop_a_file_see_the_genre_in_bold_and_a_bar_per_genre(page, server, serve_tracks,
                                                               tag_rows):
    track = serve_tracks["chords"]
    row = tag_rows[str(track)]
    page.goto(server.url + "/")
    data = base64.b64encode(track.read_bytes()).decode()
    transfer = page.evaluate_handle(
        """([data, name]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: "audio/wav" }));
            return transfer;
        }""", [data, track.name])
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
    genre = page.locator("#prediction strong")
    genre.wait_for(state="visible", timeout=60_000)
    assert genre.inner_text() == row["genre"]
    assert page.locator("#model").inner_text() == row["model"]
    bars = page.locator("#bars .bar")
    assert bars.count() == len(server.library.labels)
    assert bars.first.get_attribute("data-genre") == row["genre"]
    widths = [bars.nth(i).bounding_box()["width"] for i in range(bars.count())]
    assert widths[0] == max(widths) > 0 and widths == sorted(widths, reverse=True)
    screenshot(page, "classify.png")


def test_choosing_a_non_audio_file_shows_an_error(page, server, tmp_path):
    notes = tmp_path / "notes.mp3"
    notes.write_text("not audio at all\n" * 50)
    page.goto(server.url + "/")
    page.set_input_files("#file", str(notes))
    status = page.locator("#status.error")
    status.wait_for(timeout=30_000)
    assert "notes.mp3" in status.inner_text() and "not readable as audio" in status.inner_text()
    assert page.locator("#result").is_hidden()


def test_library_filter_play_and_neighbours(page, server, serve_tracks, tag_rows):
    page.goto(server.url + "/library")
    rows = page.locator("#tracks tbody tr")
    rows.first.wait_for()
    assert rows.count() == len(serve_tracks)
    counted = page.locator("#counts .bar")
    assert counted.count() == len({row["genre"] for row in tag_rows.values()})
    screenshot(page, "library.png")

    page.fill("#search", "chords two")
    page.wait_for_function("document.querySelectorAll('#tracks tbody tr').length === 1")
    assert rows.first.get_attribute("data-path") == str(serve_tracks["chords2"])
    page.fill("#search", "")
    page.wait_for_function(
        f"document.querySelectorAll('#tracks tbody tr').length === {len(serve_tracks)}")
    genre = tag_rows[str(serve_tracks["noise"])]["genre"]
    page.select_option("#genre-filter", genre)
    expected = sum(row["genre"] == genre for row in tag_rows.values())
    page.wait_for_function(
        f"document.querySelectorAll('#tracks tbody tr').length === {expected}")
    assert set(page.locator("#tracks tbody td.genre").all_inner_texts()) == {genre}
    page.select_option("#genre-filter", "")
    page.wait_for_function(
        f"document.querySelectorAll('#tracks tbody tr').length === {len(serve_tracks)}")
    page.locator("#counts .label", has_text=genre).click()  # the chart filters too
    page.wait_for_function(
        f"document.querySelectorAll('#tracks tbody tr').length === {expected}")
    assert page.locator("#genre-filter").input_value() == genre
    page.select_option("#genre-filter", "")
    page.wait_for_function(
        f"document.querySelectorAll('#tracks tbody tr').length === {len(serve_tracks)}")

    own_tags_in_the_table_and_the_confusion_table(page, serve_tracks, tag_rows)

    chords = page.locator("#tracks tbody tr", has_text=str(serve_tracks["chords"]))
    chords.get_by_role("button", name="Similar").click()
    neighbours = page.locator("#neighbours tbody tr")
    neighbours.first.wait_for()
    assert neighbours.count() == len(serve_tracks) - 1
    shown = page.locator("#neighbours tbody td.path").all_inner_texts()
    assert str(serve_tracks["chords"]) not in shown
    assert set(shown) == set(tag_rows) - {str(serve_tracks["chords"])}

    chords.get_by_role("button", name="Play").click()
    page.wait_for_function("document.getElementById('player').readyState >= 1",
                           timeout=30_000)
    duration = page.evaluate("document.getElementById('player').duration")
    assert duration == pytest.approx(4.0, abs=0.1)
    screenshot(page, "library-neighbours.png")


def own_tags_in_the_table_and_the_confusion_table(page, serve_tracks, tag_rows) -> None:
    """The files' own title, artist and album are shown and searched; their genres stand
    against mgc's in the confusion table."""
    headers = page.locator("#tracks thead th").all_inner_texts()
    assert headers[:5] == ["path", "title", "artist", "album", "file genres"]
    for key, (title, artist, album, _) in OWN_TAGS.items():
        row = page.locator(f"#tracks tbody tr[data-path='{serve_tracks[key]}']")
        assert [row.locator(f"td.{c}").inner_text() for c in ("title", "artist", "album")] == [
            title, artist, album]
    page.fill("#search", "deep ensemble")  # an artist, not in any path
    page.wait_for_function("document.querySelectorAll('#tracks tbody tr').length === 1")
    assert page.locator("#tracks tbody tr").first.get_attribute("data-path") == str(
        serve_tracks["low"])
    assert page.locator("#tracks tbody td.file-genres").inner_text() == "Rock, Blorp"
    # where its genre came from: its audio alone, the only track of its album and artist
    assert page.locator("#tracks tbody td.from").inner_text() == "audio"
    assert tag_rows[str(serve_tracks["low"])]["genre_from"] == "audio"
    page.fill("#search", "")
    page.wait_for_function(
        f"document.querySelectorAll('#tracks tbody tr').length === {len(serve_tracks)}")

    assert page.locator("#agreement-box").is_visible()
    ours = {key: tag_rows[str(serve_tracks[key])]["genre"] for key in OWN_TAGS}
    agreed = (ours["chords2"] == "Jazz") + (ours["low"] == "Rock")
    assert f"on {agreed} of 2 tracks" in page.locator("#agreement-line").inner_text()
    confusion = page.locator("#confusion tbody tr")
    assert sorted(r.get_attribute("data-genre") for r in confusion.all()) == sorted(
        {"Jazz", "Rock"})
    for key, library in (("chords2", "Jazz"), ("low", "Rock")):
        count = page.locator(f"#confusion tr[data-genre='{library}'] td[data-mgc='{ours[key]}']")
        assert int(count.inner_text()) >= 1
        assert ("agree" in count.get_attribute("class")) == (ours[key] == library)
    assert "Blorp 1" in page.locator("#unknown-names").inner_text()
    screenshot(page, "library-agreement.png")
