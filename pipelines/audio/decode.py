"""Streaming decode to mono float32 at the model's sample rate.

soundfile (libsndfile: WAV, AIFF, FLAC, Ogg Vorbis/Opus, MP3) reads first; PyAV's bundled
FFmpeg reads what libsndfile cannot (AAC/M4A, WMA, odd containers). Audio arrives in blocks and
is resampled with soxr's streaming resampler, so memory does not grow with track length.

The two decoders are a chain, as the ``ffmpeg`` command is forgiving: a file libsndfile
opens but loses sync in (or stops short of the length it announced) is decoded on by FFmpeg
from where libsndfile stopped, and only when both fail is it an error, whose message names
both failures. FFmpeg skips a packet it cannot decode and goes on, as the ``ffmpeg`` command
does, up to ``MAX_BAD_PACKETS`` (or ``MAX_BAD_FRACTION`` of the packets read, when more);
``AudioReader.skipped_packets`` counts them.

No file can stall or exhaust a run: only regular files are opened; the decoder runs in a
thread of its own and a file that yields no audio for ``STALL_SECONDS`` is given up (a hung
network mount, a decoder in a loop), and so is one that decodes to far more audio than a file
of its size can hold (``MAX_FRAMES_PER_BYTE``).

A reader decodes either the whole file (``blocks``) or only stretches of it (``span_blocks``:
frames ``[a, b)``, by seeking), where the format seeks to the exact sample (``AudioInfo.
seekable``): WAV, AIFF, FLAC, Ogg Vorbis and Opus, MP3 with a Xing/Info or VBRI header (its
frame count), ALAC and FLAC through FFmpeg. A seek that lands short (a header that claims
more audio than the file holds) raises ``SeekFailed``: the caller decodes the file whole.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from math import gcd

import av
import fsspec
import mutagen
import numpy as np
import soundfile as sf
import soxr

from pipelines.audio.matching import refusal

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


# A resampled stretch starts this many output samples early and ends as many late: soxr's HQ
# filter settles within 128 samples of a fresh start (measured: 2e-7 from the continuous
# stream after that), and a stretch's last samples are flushed against silence.
RESAMPLER_MARGIN = 1024
# FFmpeg decoders whose output after a seek is the same as in a whole decode: lossless ones.
# AAC is not one (its noise substitution draws from a generator that runs from the file's
# start), nor WMA (millisecond timestamps).
PYAV_SEEKABLE = ("alac", "flac")
# Packets FFmpeg may fail to decode before the file is an error: this many, or this share of
# the packets read so far when that is more. The ``ffmpeg`` command skips any number; a file
# that is mostly bad packets is garbage that happens to have a header, not damaged music. (The
# worst of mutagen's test files has 2 bad packets of 6; 2 kB of garbage in an AAC, 6.)
MAX_BAD_PACKETS = 8
MAX_BAD_FRACTION = 0.01


class DecodeError(Exception):
    """The file cannot be read as audio; the message says why, for the error row."""


class SeekFailed(Exception):
    """A seeking decode could not deliver the stretches asked for; decode the whole file."""


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    duration_s: float | None  # from the header; None when the container does not say
    decoder: str
    frames: int | None = None  # source frames the header announces, when it says
    seekable: bool = False  # seeks land on the exact sample: span_blocks() may be used


def _open_binary(path: str, stack: contextlib.ExitStack):
    """libsndfile and FFmpeg open local paths themselves; everything else goes via fsspec."""
    if "://" not in path or path.startswith("file://"):
        return path.removeprefix("file://")
    return stack.enter_context(fsspec.open(path, "rb"))


def _mp3_length_known(source) -> bool:
    """Whether an MP3 carries its frame count (a Xing/Info or VBRI header). Without one,
    libsndfile guesses the length from the first frame's bitrate and stops reading there: a
    VBR file loses whatever lies past the guess (measured: 26.6 s of 60)."""
    from mutagen.mp3 import MP3, BitrateMode

    at = source.tell() if hasattr(source, "tell") else None  # libsndfile reads on from there
    try:
        return MP3(source).info.bitrate_mode != BitrateMode.UNKNOWN
    except Exception:  # mutagen cannot parse it: let libsndfile read it, as before
        return True
    finally:
        if at is not None:
            source.seek(at)


def _riff_header_duration(path: str) -> float | None:
    """Length the WAV/AIFF header announces; libsndfile silently clips it to the bytes present,
    which would hide a truncated copy."""
    try:
        return mutagen.File(path).info.length
    except Exception:  # mutagen is only a second opinion here
        return None


def _short(decoded: int, announced: int, rate: int) -> bool:
    """Whether ``decoded`` frames fall short of the ``announced`` ones by more than the
    slack a header's estimate is allowed (``TRUNCATION_TOLERANCE``, half a second at least)."""
    return (announced - decoded) / rate > max(0.5, TRUNCATION_TOLERANCE * announced / rate)


def in_words(error: BaseException) -> str:
    """A decoder's error in a few words, for a message a user reads: libsndfile's "Error : "
    prefix and the repeated path dropped, FFmpeg's errno and function name too."""
    if isinstance(error, av.FFmpegError) and error.strerror:
        return str(error.strerror)
    text = str(error).removeprefix("Error : ")
    if ": Error : " in text:  # "Error opening '/path/x.flac': Error : unknown error in ..."
        text = text.split(": Error : ", 1)[1]
    elif text.startswith("Error opening ") and "': " in text:
        text = text.split("': ", 1)[1]
    return text.strip().rstrip(".")


class _NoAudio(Exception):
    """FFmpeg cannot open the file, or finds no audio in it; the message says which."""


_CANCELLED = object()


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
        self._requests: queue.Queue = queue.Queue()  # what to decode: None (all) or spans
        self._cancel = threading.Event()
        self.decoded_frames = 0  # source frames handed over so far
        self.skipped_packets = 0  # packets FFmpeg could not decode and skipped
        self.fallback: str | None = None  # why libsndfile gave the decode over to FFmpeg
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
                spans = self._request()
                if spans is _CANCELLED:
                    return
                for block in self._read() if spans is None else self._read_spans(spans):
                    if not self._put(("item", block)):
                        return
            self._put(("end", None))
        except BaseException as error:  # handed to the caller, raised there
            self._put(("error", error))

    def _request(self):
        """Wait for the caller to say what to decode; nothing is read before it does."""
        while not self._cancel.is_set():
            try:
                return self._requests.get(timeout=0.5)
            except queue.Empty:
                continue
        return _CANCELLED

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
            raise DecodeError("empty file (0 bytes): nothing to decode; copy it again from "
                              "its source")
        self._source, self._stack = source, stack
        try:
            self._sf = stack.enter_context(sf.SoundFile(source))
            if self._sf.format == "MP3" and not _mp3_length_known(source):
                self._sf.close()
                raise RuntimeError("an MP3 without a Xing or VBRI header: FFmpeg reads it "
                                   "to its end")
        except (sf.LibsndfileError, RuntimeError, TypeError) as sf_error:
            self._sf = None
            try:
                self._open_av()
            except _NoAudio as av_error:
                raise DecodeError(
                    f"not readable as audio by libsndfile ({in_words(sf_error)}) nor FFmpeg "
                    f"({av_error}): the file is damaged or not audio; check that it plays"
                ) from None
            stream, ctx = self._stream, self._stream.codec_context
            duration = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif self._av.duration is not None:
                duration = self._av.duration / av.time_base
            rate = int(ctx.sample_rate)
            seekable = (duration is not None and stream.time_base is not None
                        and stream.time_base <= Fraction(1, max(rate, 1))
                        and (ctx.name in PYAV_SEEKABLE or ctx.name.startswith("pcm_")))
            self._info = AudioInfo(
                rate, int(ctx.channels), duration, "pyav",
                round(duration * rate) if duration else None, seekable)
        else:
            frames = self._sf.frames
            known = 0 < frames < 2**62
            duration = frames / self._sf.samplerate if known else None
            header = duration
            if self._sf.format in ("WAV", "WAVEX", "AIFF") and isinstance(source, str):
                header = _riff_header_duration(source) or duration
            self._info = AudioInfo(
                int(self._sf.samplerate), int(self._sf.channels), header, "soundfile",
                frames if known else None,
                # a RIFF header claiming more than the file holds: decode it whole, as before
                known and self._sf.seekable() and header == duration)
        if self._info.sample_rate <= 0 or self._info.channels <= 0:
            raise DecodeError(
                f"invalid header: {self._info.sample_rate} Hz, {self._info.channels} channels"
            )

    def _open_av(self) -> None:
        """Open the file with PyAV (FFmpeg): its first audio stream, or ``_NoAudio`` saying
        why not."""
        source = self._source
        if hasattr(source, "seek"):
            source.seek(0)
        try:
            self._av = self._stack.enter_context(av.open(source, mode="r"))
        except (av.FFmpegError, ValueError, OSError) as error:
            raise _NoAudio(in_words(error)) from None
        audio = [s for s in self._av.streams if s.type == "audio"]
        if not audio:
            raise _NoAudio("no audio stream in the file")
        self._stream = audio[0]
        self._stream.thread_type = "AUTO"

    def _read(self) -> Iterator[np.ndarray]:
        size = max(1, int(BLOCK_SECONDS * self._info.sample_rate))
        if self._sf is None:
            yield from self._av_blocks(size)
            return
        # read() rather than SoundFile.blocks(): blocks() pads a short last read of a
        # truncated MP3 with uninitialised memory instead of trimming it
        delivered = 0
        try:
            while True:
                block = self._sf.read(size, dtype="float32", always_2d=True)
                if not len(block):
                    break
                delivered += len(block)
                yield block
        except (sf.LibsndfileError, RuntimeError) as error:
            failure = (f"libsndfile stopped at {delivered / self._info.sample_rate:.1f} s "
                       f"({in_words(error)})")
        else:
            frames = self._info.frames
            if frames is None or not _short(delivered, frames, self._info.sample_rate):
                return
            # libsndfile's MP3 decoder stops quietly where it loses sync
            failure = (f"libsndfile stopped at {delivered / self._info.sample_rate:.1f} s of "
                       f"the {frames / self._info.sample_rate:.1f} s its header announces")
        yield from self._continue_with_av(failure, delivered, size)

    def _continue_with_av(self, failure: str, delivered: int, size: int
                          ) -> Iterator[np.ndarray]:
        """The rest of a file libsndfile failed in, from FFmpeg: decoded from the start, the
        ``delivered`` frames already handed over dropped."""
        self.fallback = failure
        self._sf.close()  # libsndfile lets go of the file before FFmpeg reads it afresh
        try:
            self._open_av()
        except _NoAudio as error:
            raise DecodeError(f"{failure}; FFmpeg cannot read it either ({error}): the file "
                              "is damaged; check that it plays") from None
        ctx = self._stream.codec_context
        if (int(ctx.sample_rate), int(ctx.channels)) != (self._info.sample_rate,
                                                          self._info.channels):
            raise DecodeError(
                f"{failure}; FFmpeg reads the file as {ctx.sample_rate} Hz, {ctx.channels} "
                f"channels where libsndfile read {self._info.sample_rate} Hz, "
                f"{self._info.channels}: the two cannot be joined; the file is damaged")
        try:
            for block in self._av_blocks(size):
                if delivered >= block.shape[0]:
                    delivered -= block.shape[0]
                    continue
                yield block[delivered:]
                delivered = 0
        except DecodeError as error:
            raise DecodeError(f"{failure}; FFmpeg: {error}") from None

    def _av_blocks(self, size: int) -> Iterator[np.ndarray]:
        """The whole stream through FFmpeg in blocks of about ``size`` frames; a packet that
        does not decode is skipped and counted (``skipped_packets``), within bounds."""
        resampler = av.AudioResampler(format="fltp")  # planar float, source layout and rate
        held, frames = [], 0  # frames of a few ms each, handed over in blocks
        rate = self._info.sample_rate
        packets, read, position, first_error = self._av.demux(self._stream), 0, 0, None
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except (av.FFmpegError, ValueError) as error:
                raise DecodeError(f"decoding failed at {position / rate:.1f} s: "
                                  f"{in_words(error)}") from None
            read += 1
            try:
                decoded = packet.decode()
            except (av.FFmpegError, ValueError) as error:
                self.skipped_packets += 1
                first_error = first_error or in_words(error)
                if self.skipped_packets > max(MAX_BAD_PACKETS, MAX_BAD_FRACTION * read):
                    raise DecodeError(
                        f"{self.skipped_packets} of the first {read} packets do not decode "
                        f"(the first: {first_error}), by {position / rate:.1f} s: the file "
                        "is damaged beyond skipping a few") from None
                continue
            for frame in decoded:
                for out in resampler.resample(frame):
                    held.append(out.to_ndarray().T)
                    frames += held[-1].shape[0]
                    position += held[-1].shape[0]
                    if frames >= size:
                        yield np.concatenate(held)
                        held, frames = [], 0
        if held:
            yield np.concatenate(held)

    def _read_spans(self, spans: list[tuple[int, int]]) -> Iterator[tuple[int, np.ndarray]]:
        """(first frame, block) over each span ``[a, b)`` of source frames, by seeking."""
        size = max(1, int(BLOCK_SECONDS * self._info.sample_rate))
        for start, stop in spans:
            if self._sf is not None:
                blocks = self._sf_span(start, stop, size)
            else:
                blocks = self._av_span(start, stop)
            position = start
            for block in blocks:
                yield position, block
                position += block.shape[0]
            if position < stop:
                raise SeekFailed(f"frames {start}-{stop} asked, the file ended at {position}")

    def _sf_span(self, start: int, stop: int, size: int) -> Iterator[np.ndarray]:
        try:
            self._sf.seek(start)
            position = start
            while position < stop:
                block = self._sf.read(min(size, stop - position), dtype="float32",
                                      always_2d=True)
                if not len(block):
                    return
                position += len(block)
                yield block
        except (sf.LibsndfileError, RuntimeError) as error:
            raise SeekFailed(f"seeking to frame {start}: {error}") from None

    def _av_span(self, start: int, stop: int) -> Iterator[np.ndarray]:
        """Seek to the packet before ``start``, then decode, placing each frame by its
        timestamp; a frame without one, or one that does not follow its predecessor, ends
        the seeking decode."""
        stream, rate = self._stream, self._info.sample_rate
        origin = stream.start_time or 0
        resampler = av.AudioResampler(format="fltp")
        position = None
        try:
            self._av.seek(origin + int(Fraction(start, rate) / stream.time_base),
                          stream=stream, backward=True, any_frame=False)
            for packet in self._av.demux(stream):
                for frame in packet.decode():
                    if frame.pts is None:
                        raise SeekFailed("a decoded frame has no timestamp")
                    at = round((frame.pts - origin) * stream.time_base * rate)
                    if position is not None and at != position or position is None and at > start:
                        raise SeekFailed(f"the decode after a seek to frame {start} resumed at "
                                         f"{at}, not {start if position is None else position}")
                    position = at + frame.samples
                    for out in resampler.resample(frame):
                        block = out.to_ndarray().T
                        lo, hi = max(0, start - at), min(block.shape[0], stop - at)
                        if hi > lo:
                            yield block[lo:hi]
                        at += block.shape[0]
                    if position >= stop:
                        return
        except (av.FFmpegError, ValueError) as error:
            raise SeekFailed(f"seeking to frame {start}: {error}") from None

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
        """The whole file, (frames, channels) blocks in order."""
        self._requests.put(None)
        while (block := self._next("decoding")) is not None:
            self._count(block)
            yield block

    def span_blocks(self, spans: list[tuple[int, int]]) -> Iterator[tuple[int, np.ndarray]]:
        """Only source frames ``[a, b)`` of each span (sorted, apart): (first frame, block).
        Needs ``info.seekable``; ``SeekFailed`` when the file does not hold them. Either this
        or ``blocks`` is called, once."""
        if not self.info.seekable:
            raise SeekFailed(f"{self.info.decoder} does not seek this file to the sample")
        self._requests.put(list(spans))
        while (item := self._next("decoding")) is not None:
            self._count(item[1])
            yield item

    def _count(self, block: np.ndarray) -> None:
        self.decoded_frames += block.shape[0]
        limit = None if self.size is None else max(self.size, 1) * MAX_FRAMES_PER_BYTE
        if limit is not None and self.decoded_frames > limit:
            self._cancel.set()
            raise DecodeError(
                f"decodes to far more audio than a file of {self.size} bytes can hold "
                f"(over {MAX_FRAMES_PER_BYTE} frames a byte): a corrupt or hostile file")

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
    if expected and _short(position, expected * rate, rate):
        bad = reader.skipped_packets
        how = f", by FFmpeg after {reader.fallback}" if reader.fallback else ""
        skipped = f"; {bad} damaged packet{'s' * (bad > 1)} skipped" if bad else ""
        raise DecodeError(
            f"truncated: the header says {expected:.1f} s, only {position / rate:.1f} s "
            f"decode{how}{skipped}")
    if resample is not None:
        tail = resample.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if tail.size:
            yield tail


def source_spans(spans: list[tuple[int, int]], info: AudioInfo, sample_rate: int
                 ) -> list[tuple[int, int]]:
    """Stretches ``[a, b)`` at ``sample_rate`` -> the source frames to decode for them: widened
    by the resampler's margin, each start on a source frame that falls on an output sample (so
    a fresh resampler's output lines up with the whole decode's), clipped to the file, merged
    where they meet."""
    rate = info.sample_rate
    step = rate // gcd(rate, sample_rate)
    margin = 0 if rate == sample_rate else RESAMPLER_MARGIN
    end = info.frames if info.frames is not None else 2**62
    out: list[tuple[int, int]] = []
    for a, b in spans:
        first = max(0, (a - margin) * rate // sample_rate // step * step)
        last = min(end, -(-(b + margin) * rate // sample_rate))
        if out and first <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        elif first < last:
            out.append((first, last))
    return out


def mono_spans(reader: AudioReader, sample_rate: int, spans: list[tuple[int, int]]
               ) -> Iterator[tuple[int, np.ndarray]]:
    """Mono float32 at ``sample_rate`` over (at least) the stretches ``spans``, by seeking:
    (first sample at ``sample_rate``, block). Each source stretch goes through a resampler of
    its own, started on an output sample; its margins absorb the filter's start and end."""
    rate = reader.info.sample_rate
    pending: dict = {}
    for first, block in reader.span_blocks(source_spans(spans, reader.info, sample_rate)):
        if not np.isfinite(block).all():
            raise DecodeError(f"non-finite samples (NaN or inf) near {first / rate:.1f} s")
        mono = downmix(block)
        if rate == sample_rate:
            yield first, mono
            continue
        if pending.get("end") != first:  # a new stretch: flush the last one, start afresh
            yield from _flush(pending)
            pending.update(end=first, at=first * sample_rate // rate, resample=soxr.ResampleStream(
                rate, sample_rate, 1, dtype="float32", quality="HQ"))
        out = pending["resample"].resample_chunk(mono, last=False)
        pending["end"] += block.shape[0]
        if out.size:
            yield pending["at"], out
            pending["at"] += out.size
    yield from _flush(pending)


def _flush(pending: dict) -> Iterator[tuple[int, np.ndarray]]:
    if pending:
        tail = pending["resample"].resample_chunk(np.zeros(0, np.float32), last=True)
        if tail.size:
            yield pending["at"], tail
        pending.clear()
