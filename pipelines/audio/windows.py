"""One file decoded in blocks into a model's analysis windows: the first step of tagging
and of extraction, and of the pages' classify. No Beam: ``pipelines.graph.steps`` wraps it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from mgc_model.frontend import FrontendConfig, WindowCutter
from pipelines.audio.decode import AudioReader, DecodeError, SeekFailed, mono_blocks, mono_spans


class PatchStream:
    """One file decoded in blocks into the model's analysis windows (``WindowCutter``): the
    first step of tagging and of extraction. ``stage`` names the step a failure happened in,
    for its error row.

    A capped track (``max_patches``) of a format that seeks to the sample has only the audio
    its windows read decoded (``WindowCutter.regions``, ``decode.mono_spans``); those windows
    are held until the last one is cut, so that a seek that fails (``SeekFailed``: the file
    holds less than its header says) falls back to decoding the file whole, as an uncapped
    track is, with nothing yielded twice. ``seeked`` says which way the windows came.
    """

    def __init__(self, frontends: tuple[FrontendConfig, ...], hop_frames: int | None = None,
                 max_patches: int | None = None, seek: bool = True) -> None:
        self.frontends = frontends
        self.hop_frames = hop_frames
        self.max_patches = max_patches
        self.seek = seek
        self.stage = "decode"
        self.info = None
        self.n_samples = 0
        self.n_patches = 0
        self.decoded_frames = 0  # source frames decoded, fallback included
        self.seeked = False
        self.fallback: str | None = None  # why a seeking decode gave way to a whole one
        # the whole decode's repairs, for its row: packets FFmpeg skipped, and why libsndfile
        # handed the file to FFmpeg part way (``AudioReader.skipped_packets``, ``.fallback``)
        self.skipped_packets = 0
        self.decoder_fallback: str | None = None

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.frontends[0].sample_rate

    def patches(self, path: str, on_block: Callable[[np.ndarray], None] | None = None
                ) -> Iterator[tuple[np.ndarray, ...]]:
        """The windows of ``path``, streaming; ``on_block`` also sees each block of mono
        audio at the model's rate (stage ``features``), so it turns seeking off."""
        with AudioReader(path) as reader:
            cutter = self._start(reader)
            regions = None
            if self.seek and on_block is None and reader.info.seekable:
                regions = cutter.regions(merge_gap=self.frontends[0].sample_rate // 2)
            if regions is None:
                yield from self._whole(reader, cutter, on_block)
                return
            windows = self._seeking(reader, cutter, regions)
        if windows is not None:
            yield from windows
            return
        with AudioReader(path) as reader:  # the seek fell short: decode it whole, afresh
            yield from self._whole(reader, self._start(reader), on_block)

    def _start(self, reader: AudioReader) -> WindowCutter:
        self.info = reader.info
        self.n_samples = 0
        self.stage = "decode"
        return WindowCutter(self.frontends, reader.info.duration_s, self.hop_frames,
                            self.max_patches)

    def _seeking(self, reader: AudioReader, cutter: WindowCutter,
                 regions: list[tuple[int, int]]) -> list[tuple[np.ndarray, ...]] | None:
        """The windows of a capped track cut from the stretches they read; None when the
        file did not deliver them (``fallback`` says why)."""
        rate = self.frontends[0].sample_rate
        windows: list[tuple[np.ndarray, ...]] = []
        position = 0  # samples at the model's rate that the cutter has been given
        try:
            for first, block in mono_spans(reader, rate, regions):
                self.stage = "frontend"
                if first > position:
                    windows.extend(cutter.skip(first - position))
                    position = first
                block = block[position - first:]
                if block.size:
                    windows.extend(cutter.push(block))
                    position += block.size
                self.stage = "decode"
            self.stage = "frontend"
            windows.extend(cutter.finish())
        except SeekFailed as error:
            self.fallback = str(error)
        finally:
            self.decoded_frames += reader.decoded_frames
        wanted = len(cutter.cutter.wanted or ())
        if self.fallback is None and cutter.n_patches != wanted:
            self.fallback = f"{cutter.n_patches} of the {wanted} windows asked for were cut"
        if self.fallback is not None:
            return None
        self.n_samples = round(reader.info.duration_s * rate)
        self.n_patches = cutter.n_patches
        self.seeked = True
        return windows

    def _whole(self, reader: AudioReader, cutter: WindowCutter,
               on_block: Callable[[np.ndarray], None] | None
               ) -> Iterator[tuple[np.ndarray, ...]]:
        rate = self.frontends[0].sample_rate
        for block in mono_blocks(reader, rate):
            self.n_samples += block.size
            if on_block is not None:
                self.stage = "features"
                on_block(block)
            self.stage = "frontend"
            yield from cutter.push(block)
            self.stage = "decode"
        if self.n_samples == 0:
            raise DecodeError("no audio samples in the file")
        self.stage = "frontend"
        yield from cutter.finish()
        self.decoded_frames += reader.decoded_frames
        self.skipped_packets = reader.skipped_packets
        self.decoder_fallback = reader.fallback
        self.n_patches = cutter.n_patches
