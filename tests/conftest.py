import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

# fixtures shared by several test modules, each made once per session
pytest_plugins = ["serve_library"]

from fma_fixture import (  # noqa: E402  (needs the path above)
    DATASET_HOP_SECONDS,
    FmaFixture,
    make_fma_fixture,
)


@pytest.fixture(scope="session")
def fma_fixture(tmp_path_factory) -> FmaFixture:
    """The FMA-layout fixture (tests/fma_fixture.py), generated once per session."""
    return make_fma_fixture(tmp_path_factory.mktemp("fma"))


@pytest.fixture(scope="session")
def fma_dataset(fma_fixture, tmp_path_factory) -> Path:
    """``mgc extract`` run once on the fixture (subset medium, top genres): the dataset
    directory with TFRecord shards, labels.json, frontend.json, tracks/ and errors/."""
    from pipelines.graph.extract import ExtractOptions, run_extract
    from pipelines.graph.sources import fma_source

    out = tmp_path_factory.mktemp("fma-dataset")
    source = fma_source(str(fma_fixture.metadata_dir), str(fma_fixture.audio_dir),
                        subset="medium", labels="top")
    run_extract(source, str(out), ExtractOptions(hop_seconds=DATASET_HOP_SECONDS))
    return out


# Seed 001's CNN from scratch is the slow part of the suite (40 s an epoch on a slow 2-core
# machine). On the fixture, augmentation on, batches of 8 reach 100% validation accuracy at the
# 3rd epoch and 100% test accuracy (batches of 16 took 8 epochs to get there, 481 s), so 3
# epochs: the fixture's setup took 79 s against 107 s at 5, test_train's 90% check passing.
CNN_TEST_CONFIG = {"arch": "cnn", "epochs": 3, "batch_size": 8, "learning_rate": 3e-4}


@pytest.fixture(scope="session")
def transfer_bundle(fma_dataset, tmp_path_factory):
    """``mgc train`` (transfer, the defaults) run once on ``fma_dataset``, through the CLI:
    (bundle path, the finished process)."""
    import subprocess

    bundle = tmp_path_factory.mktemp("bundles") / "transfer"
    run = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "train", "--data", str(fma_dataset),
         "--output", str(bundle), "--epochs", "20"],
        capture_output=True, text=True, timeout=600,
    )
    return bundle, run


@pytest.fixture(scope="session")
def cnn_bundle(fma_dataset, tmp_path_factory) -> Path:
    """Seed 001's CNN trained once on ``fma_dataset`` (library call): the bundle path."""
    from mgc_model.training import TrainConfig, train

    bundle = tmp_path_factory.mktemp("bundles") / "cnn"
    return train(str(fma_dataset), str(bundle), TrainConfig(**CNN_TEST_CONFIG)).bundle
