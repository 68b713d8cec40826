"""Streaming decode to mono float32 at the model's sample rate.

soundfile (libsndfile: WAV, AIFF, FLAC, Ogg Vorbis/Opus, MP3) reads first; PyAV's bundled
FFmpeg reads what libsndfile cannot (AAC/M4A, WMA, odd containers). Audio arrives in blocks and
is resampled with soxr's streaming resampler, so memory does not grow with track length.

No file can stall or exhaust a run: only regular files are opened; the decoder runs in a
thread of its own and a file that yields no audio for ``STALL_SECONDS`` is given up (a hung
network mount, a decoder in a loop), and so is one that decodes to far more audio than a file
of its size can hold (``MAX_FRAMES_PER_BYTE``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import av
import fsspec
import mutagen
import numpy as np
import soundfile as sf
import soxr

from pipelines.matching import refusal

BLOCK_SECONDS = 10.0
# A decode that yields no block for this long is given up: a 10 s block takes milliseconds.
STALL_SECONDS = 60.0
# The most audio frames a byte of file may decode to. Digital silence compresses best: about
# 340 frames a byte in FLAC, 290 in Ogg Vorbis, 200 in Opus (measured with libsndfile); FLAC's
# largest blocks could reach some 5,000. Beyond that a file is a decoder bomb or a loop.
MAX_FRAMES_PER_BYTE = 8192
# Decoding this much less than the header announces means the file was cut short. MP3 headers
# without a Xing frame only estimate the length, hence the slack.
TRUNCATION_TOLERANCE = 0.1


class DecodeError(Exception):
    """The file cannot be read as audio; the message says why, for the error row."""


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    duration_s: float | None  # from the header; None when the container does not say
    decoder: str


def _open_binary(path: str, stack: contextlib.ExitStack):
    """libsndfile and FFmpeg open local paths themselves; everything else goes via fsspec."""
    if "://" not in path or path.startswith("file://"):
        return path.removeprefix("file://")
    return stack.enter_context(fsspec.open(path, "rb"))


def _riff_header_duration(path: str) -> float | None:
    """Length the WAV/AIFF header announces; libsndfile silently clips it to the bytes present,
    which would hide a truncated copy."""
    try:
        return mutagen.File(path).info.length
    except Exception:  # mutagen is only a second opinion here
        return None


class AudioReader:
    """An open audio file: ``info`` from its header, ``blocks()`` of (frames, channels).

    The file is opened and decoded by a thread of its own, a few blocks ahead, so that a
    decoder that hangs (in a system call or in a loop) cannot hang its caller: after
    ``stall_seconds`` without a block, the caller gets a ``DecodeError`` and goes on; the
    stuck thread is left to end on its own.
    """

    def __init__(self, path: str, stall_seconds: float = STALL_SECONDS) -> None:
        self.path = path
        self.stall_seconds = stall_seconds
        refused = refusal(path)
        if refused is not None:
            raise DecodeError(refused[1])
        self.size = _size(path)
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="mgc-decode", daemon=True)
        self._thread.start()
        try:
            self.info: AudioInfo = self._next("opening the file")
        except BaseException:
            self.close()
            raise

    # --- the decoding thread -----------------------------------------------------------------

    def _produce(self) -> None:
        try:
            with contextlib.ExitStack() as stack:
                self._open(stack)
                if not self._put(("item", self._info)):
                    return
                for block in self._read():
                    if not self._put(("item", block)):
                        return
            self._put(("end", None))
        except BaseException as error:  # handed to the caller, raised there
            self._put(("error", error))

    def _put(self, message: tuple) -> bool:
        """Hand a message to the caller; False once it has stopped listening."""
        while not self._cancel.is_set():
            try:
                self._queue.put(message, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def _open(self, stack: contextlib.ExitStack) -> None:
        source = _open_binary(self.path, stack)
        if isinstance(source, str) and os.path.isfile(source) and os.path.getsize(source) == 0:
            raise DecodeError("empty file (0 bytes)")
        try:
            self._sf = stack.enter_context(sf.SoundFile(source))
        except (sf.LibsndfileError, RuntimeError, TypeError) as sf_error:
            self._sf = None
            if hasattr(source, "seek"):
                source.seek(0)
            try:
                self._av = stack.enter_context(av.open(source, mode="r"))
            except (av.FFmpegError, ValueError, OSError) as av_error:
                raise DecodeError(
                    f"not readable as audio (soundfile: {sf_error}; ffmpeg: {av_error})"
                ) from None
            audio = [s for s in self._av.streams if s.type == "audio"]
            if not audio:
                raise DecodeError("no audio stream in the file") from None
            stream = audio[0]
            stream.thread_type = "AUTO"
            ctx = stream.codec_context
            duration = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif self._av.duration is not None:
                duration = self._av.duration / av.time_base
            self._stream = stream
            self._info = AudioInfo(
                int(ctx.sample_rate), int(ctx.channels), duration, "pyav"
            )
        else:
            frames = self._sf.frames
            duration = frames / self._sf.samplerate if 0 < frames < 2**62 else None
            if self._sf.format in ("WAV", "WAVEX", "AIFF") and isinstance(source, str):
                duration = _riff_header_duration(source) or duration
            self._info = AudioInfo(
                int(self._sf.samplerate), int(self._sf.channels), duration, "soundfile"
            )
        if self._info.sample_rate <= 0 or self._info.channels <= 0:
            raise DecodeError(
                f"invalid header: {self._info.sample_rate} Hz, {self._info.channels} channels"
            )

    def _read(self) -> Iterator[np.ndarray]:
        size = max(1, int(BLOCK_SECONDS * self._info.sample_rate))
        if self._sf is not None:
            # read() rather than SoundFile.blocks(): blocks() pads a short last read of a
            # truncated MP3 with uninitialised memory instead of trimming it
            try:
                while True:
                    block = self._sf.read(size, dtype="float32", always_2d=True)
                    if not len(block):
                        return
                    yield block
            except (sf.LibsndfileError, RuntimeError) as error:
                raise DecodeError(f"decoding failed: {error}") from None
        resampler = av.AudioResampler(format="fltp")  # planar float, source layout and rate
        held, frames = [], 0  # frames of a few ms each, handed over in blocks
        try:
            for packet in self._av.demux(self._stream):
                for frame in packet.decode():
                    for out in resampler.resample(frame):
                        held.append(out.to_ndarray().T)
                        frames += held[-1].shape[0]
                        if frames >= size:
                            yield np.concatenate(held)
                            held, frames = [], 0
        except (av.FFmpegError, ValueError) as error:
            raise DecodeError(f"decoding failed: {error}") from None
        if held:
            yield np.concatenate(held)

    # --- the caller's side -------------------------------------------------------------------

    def _next(self, doing: str):
        try:
            kind, value = self._queue.get(timeout=self.stall_seconds)
        except queue.Empty:
            self._cancel.set()
            raise DecodeError(f"no progress {doing} for {self.stall_seconds:g} s (a stalled "
                              "disk or network mount, or a decoder caught in a loop); given "
                              "up") from None
        if kind == "error":
            raise value
        return None if kind == "end" else value

    def blocks(self) -> Iterator[np.ndarray]:
        limit = None if self.size is None else max(self.size, 1) * MAX_FRAMES_PER_BYTE
        decoded = 0
        while (block := self._next("decoding")) is not None:
            decoded += block.shape[0]
            if limit is not None and decoded > limit:
                self._cancel.set()
                raise DecodeError(
                    f"decodes to far more audio than a file of {self.size} bytes can hold "
                    f"(over {MAX_FRAMES_PER_BYTE} frames a byte): a corrupt or hostile file")
            yield block

    def close(self) -> None:
        """Stop the decoding thread; it closes the file itself (a file must not be closed
        under a decoder still reading it). One stuck in a system call is left behind."""
        self._cancel.set()
        self._thread.join(timeout=1.0)

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _size(path: str) -> int | None:
    """The file's size in bytes, None where the store does not say."""
    try:
        if "://" not in path or path.startswith("file://"):
            return os.path.getsize(path.removeprefix("file://"))
        fs, inner = fsspec.core.url_to_fs(path)
        return int(fs.size(inner))
    except Exception:  # only a bound on decoding: reading the file says what is wrong
        return None


def downmix(block: np.ndarray) -> np.ndarray:
    """Mean of the channels of a (frames, channels) block, summed column by column: the same
    values as ``block.mean(axis=1)`` but many times faster, since numpy reduces a short inner
    axis one row at a time (it was a third of decode time on stereo MP3s)."""
    mono = block[:, 0].copy()
    for channel in range(1, block.shape[1]):
        mono += block[:, channel]
    if block.shape[1] > 1:
        mono /= np.float32(block.shape[1])
    return mono


def mono_blocks(reader: AudioReader, sample_rate: int) -> Iterator[np.ndarray]:
    """Mono float32 blocks at ``sample_rate``; refuses NaN or infinite samples, which would
    otherwise reach the model and the outputs."""
    resample = None
    if reader.info.sample_rate != sample_rate:
        resample = soxr.ResampleStream(
            reader.info.sample_rate, sample_rate, 1, dtype="float32", quality="HQ"
        )
    position = 0
    rate = reader.info.sample_rate
    for block in reader.blocks():
        if not np.isfinite(block).all():
            seconds = position / rate
            raise DecodeError(f"non-finite samples (NaN or inf) near {seconds:.1f} s")
        position += block.shape[0]
        mono = downmix(block)
        if resample is not None:
            mono = resample.resample_chunk(mono, last=False)
        if mono.size:
            yield mono
    expected = reader.info.duration_s
    if expected and expected - position / rate > max(0.5, TRUNCATION_TOLERANCE * expected):
        raise DecodeError(
            f"truncated: the header says {expected:.1f} s, only {position / rate:.1f} s decode"
        )
    if resample is not None:
        tail = resample.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if tail.size:
            yield tail
