#!/usr/bin/env bash
# Run `mgc tag` on Dataflow, either submitted from this checkout (--mode submit, the default)
# or from the Flex Template built by `--mode build-template` (--mode template). See README.md.
#
#   deploy/dataflow/launch.sh --project P --region europe-west1 --bucket B \
#       --inputs gs://B/music/ --output gs://B/mgc/nightly [--accelerator nvidia-tesla-t4]
# Submit mode runs mgc with $PYTHON (default: python on PATH, e.g. the activated .venv).
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: launch.sh --project PROJECT --region REGION --bucket BUCKET --inputs GS_PATHS --output GS_DIR
                 [--mode submit|template|build-template] [--machine-type TYPE]
                 [--accelerator TYPE[:COUNT]] [--max-workers N] [--image IMAGE] [--incremental]
                 [--max-patches N] [--batch-size N] [--job-name NAME] [--dry-run]
                 [-- EXTRA_OPTIONS...]
  --inputs        comma-separated gs:// folders, files or globs
  --accelerator   e.g. nvidia-tesla-t4 or nvidia-l4:1 (GPU workers; uses the -gpu image)
  --dry-run       print the command instead of running it
  --image         the SDK container image (default: REGION-docker.pkg.dev/PROJECT/mgc/mgc[-gpu]:0.1.0)
USAGE
}

# --dry-run prints the command, one argument per line, instead of running it.
run() {
  if [[ "$DRY_RUN" == true ]]; then printf '%s\n' "$@"; exit 0; fi
  exec "$@"
}

die() { echo "launch.sh: $*" >&2; echo "run with --help for the options" >&2; exit 2; }

MODE=submit PROJECT="" REGION="" BUCKET="" INPUTS="" OUTPUT="" MACHINE_TYPE="" ACCELERATOR=""
MAX_WORKERS=20 IMAGE="" INCREMENTAL=false MAX_PATCHES="" BATCH_SIZE="" JOB_NAME="" EXTRA=()
VERSION=0.1.0 DRY_RUN=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --mode) MODE="${2:?}"; shift 2 ;;
    --project) PROJECT="${2:?}"; shift 2 ;;
    --region) REGION="${2:?}"; shift 2 ;;
    --bucket) BUCKET="${2:?}"; shift 2 ;;
    --inputs) INPUTS="${2:?}"; shift 2 ;;
    --output) OUTPUT="${2:?}"; shift 2 ;;
    --machine-type) MACHINE_TYPE="${2:?}"; shift 2 ;;
    --accelerator) ACCELERATOR="${2:?}"; shift 2 ;;
    --max-workers) MAX_WORKERS="${2:?}"; shift 2 ;;
    --image) IMAGE="${2:?}"; shift 2 ;;
    --incremental) INCREMENTAL=true; shift ;;
    --max-patches) MAX_PATCHES="${2:?}"; shift 2 ;;
    --batch-size) BATCH_SIZE="${2:?}"; shift 2 ;;
    --job-name) JOB_NAME="${2:?}"; shift 2 ;;
    --dry-run) DRY_RUN=true; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) die "unknown option $1" ;;
  esac
done

[[ -n "$PROJECT" ]] || die "--project is required"
[[ -n "$REGION" ]] || die "--region is required (e.g. europe-west1)"
[[ -n "$BUCKET" ]] || die "--bucket is required (a bucket name, without gs://)"
[[ "$BUCKET" != gs://* ]] || die "--bucket takes the bucket name without gs://"
case "$MODE" in submit|template|build-template) ;; *) die "--mode is submit, template or build-template" ;; esac

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
REGISTRY="${REGION}-docker.pkg.dev/${PROJECT}/mgc"
TEMPLATE="gs://${BUCKET}/templates/mgc-tag.json"
JOB_NAME="${JOB_NAME:-mgc-tag-$(date -u +%Y%m%d-%H%M%S)}"

# GPU: a T4 (or L4) per worker on an N1 (G2 for L4) machine; one SDK process per VM so that a
# single TensorFlow holds the GPU; batches large enough to keep it busy.
GPU_OPTIONS=()
if [[ -n "$ACCELERATOR" ]]; then
  GPU_TYPE="${ACCELERATOR%%:*}" GPU_COUNT=1
  [[ "$ACCELERATOR" == *:* ]] && GPU_COUNT="${ACCELERATOR##*:}"
  [[ "$GPU_COUNT" =~ ^[1-9][0-9]*$ ]] || die "--accelerator TYPE[:COUNT], COUNT a whole number"
  ACCEL_SPEC="type:${GPU_TYPE};count:${GPU_COUNT};install-nvidia-driver"
  IMAGE="${IMAGE:-${REGISTRY}/mgc-gpu:${VERSION}}"
  if [[ "$GPU_TYPE" == nvidia-l4 ]]; then MACHINE_TYPE="${MACHINE_TYPE:-g2-standard-4}"
  else MACHINE_TYPE="${MACHINE_TYPE:-n1-standard-4}"; fi
  BATCH_SIZE="${BATCH_SIZE:-128}"
  GPU_OPTIONS=(
    "--dataflow_service_options=worker_accelerator=${ACCEL_SPEC}"
    "--resource_hints=accelerator=${ACCEL_SPEC}"
    "--experiments=no_use_multiple_sdk_containers"
  )
else
  IMAGE="${IMAGE:-${REGISTRY}/mgc:${VERSION}}"
  MACHINE_TYPE="${MACHINE_TYPE:-n2-standard-2}"
fi

if [[ "$MODE" == build-template ]]; then
  # Build and push the images with Cloud Build, then write the template spec to the bucket.
  gcloud builds submit "$REPO_ROOT" --project "$PROJECT" \
    --config <(printf 'steps:\n- name: gcr.io/cloud-builders/docker\n  args: [build, -f, deploy/dataflow/Dockerfile, -t, %s, .]\n- name: gcr.io/cloud-builders/docker\n  args: [build, -f, deploy/dataflow/Dockerfile.gpu, -t, %s, .]\nimages: [%s, %s]\ntimeout: 3600s\n' \
      "${REGISTRY}/mgc:${VERSION}" "${REGISTRY}/mgc-gpu:${VERSION}" \
      "${REGISTRY}/mgc:${VERSION}" "${REGISTRY}/mgc-gpu:${VERSION}")
  gcloud dataflow flex-template build "$TEMPLATE" --project "$PROJECT" \
    --image "${REGISTRY}/mgc:${VERSION}" --sdk-language PYTHON \
    --metadata-file "${REPO_ROOT}/deploy/dataflow/metadata.json"
  echo "template: $TEMPLATE"
  exit 0
fi

[[ -n "$INPUTS" ]] || die "--inputs is required (comma-separated gs:// paths)"
[[ "$OUTPUT" == gs://* ]] || die "--output must be a gs:// folder (workers cannot see local paths)"

COMMON=(
  "--project=${PROJECT}" "--region=${REGION}"
  "--temp_location=gs://${BUCKET}/tmp" "--staging_location=gs://${BUCKET}/staging"
  "--sdk_container_image=${IMAGE}" "--machine_type=${MACHINE_TYPE}"
  "--max_num_workers=${MAX_WORKERS}" "--experiments=use_runner_v2"
)

if [[ "$MODE" == template ]]; then
  # gcloud splits --parameters at commas: the ^~^ prefix makes ~ the separator instead, so the
  # comma-separated inputs and the accelerator spec's semicolons arrive whole.
  PARAMS="^~^inputs=${INPUTS}~output=${OUTPUT}~incremental=${INCREMENTAL}"
  PARAMS+="~sdk_container_image=${IMAGE}"
  [[ -n "$MAX_PATCHES" ]] && PARAMS+="~max_patches=${MAX_PATCHES}"
  [[ -n "$BATCH_SIZE" ]] && PARAMS+="~batch_size=${BATCH_SIZE}"
  for option in "${GPU_OPTIONS[@]}"; do
    [[ "$option" == --experiments=* ]] || PARAMS+="~${option#--}"
  done
  EXPERIMENTS=use_runner_v2
  [[ -n "$ACCELERATOR" ]] && EXPERIMENTS+=",no_use_multiple_sdk_containers"
  run gcloud dataflow flex-template run "$JOB_NAME" --project "$PROJECT" --region "$REGION" \
    --template-file-gcs-location "$TEMPLATE" --temp-location "gs://${BUCKET}/tmp" \
    --staging-location "gs://${BUCKET}/staging" --worker-machine-type "$MACHINE_TYPE" \
    --max-workers "$MAX_WORKERS" --additional-experiments "$EXPERIMENTS" \
    --parameters "$PARAMS" "${EXTRA[@]}"
fi

TAG_FLAGS=()
[[ "$INCREMENTAL" == true ]] && TAG_FLAGS+=(--incremental)
[[ -n "$MAX_PATCHES" ]] && TAG_FLAGS+=(--max-patches "$MAX_PATCHES")
[[ -n "$BATCH_SIZE" ]] && TAG_FLAGS+=(--batch-size "$BATCH_SIZE")
IFS=, read -r -a INPUT_LIST <<< "$INPUTS"
cd "$REPO_ROOT"
# --setup_file ships this checkout's code on top of the image's (the image has the pinned
# dependencies, so the install at worker start is quick).
run "${PYTHON:-python}" -m pipelines.cli tag "${INPUT_LIST[@]}" --output "$OUTPUT" --no-progress \
  "${TAG_FLAGS[@]}" --runner=DataflowRunner --job_name="$JOB_NAME" \
  --setup_file=./setup.py "${COMMON[@]}" "${GPU_OPTIONS[@]}" "${EXTRA[@]}"
