#!/usr/bin/env bash
# Without Airflow: Cloud Scheduler calls Dataflow's flexTemplates.launch every night at 03:00.
# The service account needs roles/dataflow.developer and to act as the workers' account.
# The fixed jobName keeps nights from overlapping: Dataflow refuses a launch whose name is that
# of a job still running in the region.
#   PROJECT=... REGION=... BUCKET=... SERVICE_ACCOUNT=...@....iam.gserviceaccount.com \
#     deploy/schedule/cloud_scheduler.sh
set -euo pipefail
: "${PROJECT:?set PROJECT}" "${REGION:?set REGION}" "${BUCKET:?set BUCKET}"
: "${SERVICE_ACCOUNT:?set SERVICE_ACCOUNT (the account Cloud Scheduler calls Dataflow as)}"
IMAGE="${REGION}-docker.pkg.dev/${PROJECT}/mgc/mgc:0.1.0"

BODY=$(cat <<JSON
{
  "launchParameter": {
    "jobName": "mgc-nightly",
    "containerSpecGcsPath": "gs://${BUCKET}/templates/mgc-tag.json",
    "parameters": {
      "inputs": "gs://${BUCKET}/music/",
      "output": "gs://${BUCKET}/mgc/tags",
      "incremental": "true",
      "sdk_container_image": "${IMAGE}"
    },
    "environment": {
      "tempLocation": "gs://${BUCKET}/tmp",
      "stagingLocation": "gs://${BUCKET}/staging",
      "machineType": "n2-standard-2",
      "maxWorkers": 20
    }
  }
}
JSON
)

gcloud scheduler jobs create http mgc-nightly --project "$PROJECT" --location "$REGION" \
  --schedule "0 3 * * *" --time-zone "Etc/UTC" --http-method POST \
  --uri "https://dataflow.googleapis.com/v1b3/projects/${PROJECT}/locations/${REGION}/flexTemplates:launch" \
  --oauth-service-account-email "$SERVICE_ACCOUNT" \
  --headers "Content-Type=application/json" --message-body "$BODY"
