"""The ``mgc`` command as a user meets it: exit codes, messages, pass-through options."""

import json
import os
import subprocess
import sys

import pytest

from audio import chord_track, write_audio

MGC = [sys.executable, "-m", "pipelines.cli"]


def mgc(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([*MGC, *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_unknown_flag_names_the_closest_valid_one(tmp_path):
    result = mgc("tag", str(tmp_path), "--output", str(tmp_path / "o"), "--max-patchs", "3")
    assert result.returncode != 0
    assert "unknown option --max-patchs" in result.stderr
    assert "did you mean --max-patches" in result.stderr
    assert not (tmp_path / "o").exists()


def test_missing_input_fails_before_any_work(tmp_path):
    result = mgc("tag", str(tmp_path / "nowhere"), "--output", str(tmp_path / "o"))
    assert result.returncode == 1
    assert "input does not exist" in result.stderr and "nowhere" in result.stderr
    assert not (tmp_path / "o").exists()


def test_bad_values_are_refused_with_a_message(tmp_path):
    result = mgc("tag", str(tmp_path), "--output", str(tmp_path / "o"), "--max-patches", "-1")
    assert result.returncode == 1 and "--max-patches must be" in result.stderr
    result = mgc("tag", str(tmp_path), "--output", str(tmp_path / "o"), "--model", "nope")
    assert result.returncode == 1 and "unknown model 'nope'" in result.stderr
    result = mgc("tag", str(tmp_path), "--output", str(tmp_path / "o"), "--model", "fats")
    assert result.returncode == 1 and "did you mean 'fast'" in result.stderr


def test_nothing_readable_exits_non_zero_after_writing_error_rows(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "empty.mp3").write_bytes(b"")
    result = mgc("tag", str(tmp_path / "lib"), "--output", str(tmp_path / "o"))
    assert result.returncode == 1
    assert "no file could be read" in result.stderr
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert (run["seen"], run["tagged"], run["failed"]) == (1, 0, 1)


def test_no_audio_in_a_folder_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    result = mgc("tag", str(tmp_path), "--output", str(tmp_path / "o"))
    assert result.returncode == 1 and "no audio files found" in result.stderr


def test_a_run_with_failures_still_exits_zero_and_summarises(tmp_path):
    lib = tmp_path / "lib"
    write_audio(lib / "a.flac", chord_track(4.0, 22050), 22050)
    write_audio(lib / "b.ogg", chord_track(4.0, 22050, seed=3), 22050)
    (lib / "c.mp3").write_bytes(b"not an mp3")
    result = mgc("tag", str(lib), "--output", str(tmp_path / "o"),
                 "--direct_num_workers", "2", "--direct_running_mode", "multi_threading")
    assert result.returncode == 0, result.stderr
    assert "Tagged 2 of 3 files" in result.stdout
    assert "Top genres:" in result.stdout and "decode 1" in result.stdout


def test_demo_library_is_tagged(tmp_path):
    from pipelines.commands.tag import demo_library

    demo = [f for f in os.listdir(demo_library()) if not f.endswith(".md")]
    result = mgc("tag", "--demo", "--output", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert run["tagged"] == len(demo) >= 4 and run["failed"] == 0


@pytest.mark.timeout(300)
def test_progress_bar_on_a_calm_terminal(tmp_path):
    """Run under a pseudo-terminal, as a person would: a progress bar on stderr, and none of
    TensorFlow's start-up lines."""
    pty = pytest.importorskip("pty")
    write_audio(tmp_path / "lib" / "a.flac", chord_track(4.0, 22050), 22050)
    out = tmp_path / "o"
    pid, fd = pty.fork()
    if pid == 0:  # child: run mgc with the pty as its terminal
        os.execv(sys.executable, [*MGC, "tag", str(tmp_path / "lib"), "--output", str(out)])
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    screen = b"".join(chunks).decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0
    assert "files 1/1" in screen and "files/s" in screen
    assert "100%" in screen and "━" in screen and " left" in screen and "failed 0" in screen
    assert "Tagged 1 of 1 files" in screen
    for noise in ("absl", "cuInit", "cudart_stub", "cpu_feature_guard", "oneDNN", "E0000"):
        assert noise not in screen


def test_help_lists_commands_and_options():
    top = mgc("--help").stdout
    assert "tag" in top and "undo" in top and "--version" in top and "--verbose" in top
    help_text = mgc("tag", "--help").stdout
    for flag in ("--output", "--model", "--max-patches", "--hop-seconds", "--demo"):
        assert flag in help_text


def test_version_names_mgc_and_the_default_model():
    from mgc_model import registry

    result = mgc("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("mgc ")
    assert f"default model {registry.describe(registry.DEFAULT_MODEL).ref}" in result.stdout
    assert result.stderr == ""  # TensorFlow loaded, and said nothing


def test_verbose_shows_what_tensorflow_prints_as_it_starts(tmp_path):
    # train loads TensorFlow (tagging with the pretrained networks never does)
    args = ("train", "--data", str(tmp_path), "--output", str(tmp_path / "b"))
    quiet, verbose = mgc(*args), mgc(*args, "--verbose")
    assert quiet.stderr.strip().splitlines() == [
        f"mgc train: {tmp_path} has no labels.json: give the folder written by "
        "`mgc extract --output DIR`"]
    assert "absl" in verbose.stderr or "cuda" in verbose.stderr.lower()
    assert quiet.returncode == verbose.returncode != 0


def test_tagging_with_a_pretrained_model_never_starts_tensorflow():
    """Its networks run in onnxruntime: TensorFlow's start-up (seconds) is not paid."""
    probe = ("import sys; from pipelines import cli; from mgc_model import registry; "
             "registry.load(registry.DEFAULT_MODEL); cli.main(['--version']); "
             "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=600)
    assert result.stdout.splitlines()[-1] == "False", result.stderr
