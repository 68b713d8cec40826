"""The default patch budget: what ``mgc tag`` analyses unless told otherwise, and the bench's
measurement of it picking the very windows the product picks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from mgc_model.frontend import FrontendConfig, WindowCutter, budget_windows
from mgc_model.yamnet import FRONTEND as YAMNET
from pipelines.graph.tag import DEFAULT_MAX_PATCHES, TagOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import patch_budget  # noqa: E402  (bench/ is not a package)


def test_tag_caps_by_default_and_zero_means_every_patch():
    from pipelines.commands.tag import tag_parser

    assert tag_parser().parse_args(["x", "-o", "y"]).max_patches == DEFAULT_MAX_PATCHES > 0
    assert TagOptions().max_patches == DEFAULT_MAX_PATCHES
    TagOptions(max_patches=0).validate()  # every patch
    TagOptions(max_patches=None).validate()  # every patch, as mgc 0.1's callers (learn) say it
    with pytest.raises(ValueError, match="--max-patches must be a whole number, 0 for every"):
        TagOptions(max_patches=-1).validate()


def test_extract_keeps_every_patch_by_default():
    """Training data wants every patch: the budget is tag's, not extract's."""
    from pipelines.commands.extract import extract_parser
    from pipelines.graph.extract import ExtractOptions

    assert ExtractOptions().max_patches is None
    assert extract_parser().parse_args(["--folder", "x", "-o", "y"]).max_patches is None


def test_serve_repeats_the_budget_a_run_recorded(tmp_path):
    from pipelines.serve.server import RunOptions

    assert RunOptions.of_run(str(tmp_path)).max_patches == DEFAULT_MAX_PATCHES  # no run.json
    (tmp_path / "run.json").write_text(json.dumps({"options": {"max_patches": None}}))
    assert RunOptions.of_run(str(tmp_path)).max_patches == 0  # an older run: every patch
    (tmp_path / "run.json").write_text(json.dumps({"options": {"max_patches": 5}}))
    assert RunOptions.of_run(str(tmp_path)).max_patches == 5


@pytest.mark.parametrize("seconds,budget", [(130.3, 8), (181.0, 1), (20.0, 8), (200.0, 32)])
def test_the_measurement_scores_the_windows_the_product_keeps(seconds, budget):
    """``frontend.budget_windows`` (which windows of a full analysis stand for ``--max-patches
    N``, as the bench and the check script measure budgets) names the windows ``WindowCutter``
    cuts from the same track."""
    cfg = FrontendConfig()
    n = int(seconds * cfg.sample_rate)
    y = (np.random.default_rng(0).standard_normal(n) * 0.1).astype(np.float32)

    def cut(cap):
        cutter = WindowCutter((cfg, YAMNET), seconds, None, cap)
        got = [w[0] for i in range(0, n, 160_000) for w in cutter.push(y[i:i + 160_000])]
        return got + [w[0] for w in cutter.finish()]

    every, kept = cut(None), cut(budget)
    chosen = budget_windows(len(every), seconds, budget, cfg)
    assert len(chosen) == len(kept) == min(budget, len(every))
    for index, patch in zip(chosen, kept, strict=True):
        np.testing.assert_array_equal(every[index], patch)


def test_the_rule_takes_the_smallest_budget_that_stays_above_the_target():
    rows = [{"budget": b, "agreement_tie": a, "agreement": a - 0.1} for b, a in
            [(1, 0.5), (2, 0.98), (3, 0.9), (4, 0.97), (6, 0.99), (8, 1.0)]]
    assert patch_budget.choose(rows, 0.97) == 4  # 2 reached it once, then fell back
    assert patch_budget.choose(rows[:3], 0.97) is None
    assert patch_budget.choose(rows, 0.9, key="agreement") == 8


def test_the_default_budget_leaves_a_30_s_clip_whole():
    """The model's figures were measured on 30 s clips: the default analyses them whole."""
    rows = [{"budget": b, "agreement_tie": a} for b, a in [(4, 0.9), (6, 0.98), (16, 0.99)]]
    assert patch_budget.choose(rows) == 6
    assert patch_budget.default_budget(rows) == patch_budget.CLIP_WINDOWS == 10
    assert patch_budget.default_budget([{"budget": 16, "agreement_tie": 0.99}]) == 16
    assert DEFAULT_MAX_PATCHES >= patch_budget.CLIP_WINDOWS
    cfg = FrontendConfig()
    assert cfg.expected_frames(30.0) // cfg.patch_frames == patch_budget.CLIP_WINDOWS
