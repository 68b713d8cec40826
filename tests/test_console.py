"""A calm terminal: native start-up noise on file descriptor 2 is dropped, real warnings and
errors pass, ``--verbose`` keeps everything."""

import os
import subprocess
import sys

from pipelines.terminal.console import is_noise, quiet_native_stderr

NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796140506.464285    2059 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.",
    "E0000 00:00:1796140513.500458    2059 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    "I0000 00:00:1796141332.955183    4110 cpu_feature_guard.cc:227] This TensorFlow binary is "
    "optimized to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow "
    "with the appropriate compiler flags.",
    "I tensorflow/core/util/port.cc:153] oneDNN custom operations are on.",
    "2026-12-01 16:00:00.0 [W:onnxruntime:Default, device_discovery.cc:164 "
    "DiscoverDevicesForPlatform] GPU device discovery failed",
    "2026-12-01 16:00:00.0 [I:onnxruntime:, inference_session.cc:1 Initialize] loaded",
]
REAL = [
    "W0000 00:00:1796140513.5 2059 op_level_cost_estimator.cc:699] Error in PredictCost()",
    "E0000 00:00:1796140513.5 2059 meta_optimizer.cc:966] model_pruner failed: INVALID_ARGUMENT",
    "2026-12-01 16:00:00.0 [E:onnxruntime:, sequential_executor.cc:572] Non-zero status code",
    "Segmentation fault while decoding",
]


def test_start_up_noise_is_recognised_and_real_messages_are_not():
    assert all(is_noise(line) for line in NOISE)
    assert not any(is_noise(line) for line in REAL)


def test_native_writes_to_fd_2_are_filtered_python_stderr_is_not(capfd):
    with quiet_native_stderr():
        for line in NOISE + REAL:
            os.write(2, (line + "\n").encode())
        print("python's own warning", file=sys.stderr)
        subprocess.run([sys.executable, "-c", f"import os; os.write(2, {NOISE[2]!r}.encode()"
                        " + b'\\n' + b'child error\\n')"], check=True)
    err = capfd.readouterr().err
    assert all(line in err for line in REAL) and "python's own warning" in err
    assert "child error" in err
    assert not any(line in err for line in NOISE)


def test_verbose_keeps_every_line(capfd):
    with quiet_native_stderr(verbose=True):
        for line in NOISE:
            os.write(2, (line + "\n").encode())
    err = capfd.readouterr().err
    assert all(line in err for line in NOISE)
