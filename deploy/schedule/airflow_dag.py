"""Nightly incremental tagging on Dataflow from Airflow (Cloud Composer), running the Flex
Template that ``deploy/dataflow/launch.sh --mode build-template`` wrote.

Set the Airflow variables ``mgc_project``, ``mgc_region`` and ``mgc_bucket``; copy this file
into the DAGs folder. Needs ``apache-airflow-providers-google``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow import DAG
from airflow.models import Variable
from airflow.providers.google.cloud.operators.dataflow import (
    DataflowStartFlexTemplateOperator,
)

PROJECT = Variable.get("mgc_project")
REGION = Variable.get("mgc_region")
BUCKET = Variable.get("mgc_bucket")
IMAGE = f"{REGION}-docker.pkg.dev/{PROJECT}/mgc/mgc:0.1.0"

with DAG(
    dag_id="mgc_nightly_tag",
    schedule="0 3 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,  # one run per night; a missed night is caught up by the next (incremental)
    max_active_runs=1,  # the previous output is the state: never two runs at once
    default_args={"retries": 1, "retry_delay": timedelta(minutes=30)},
) as dag:
    DataflowStartFlexTemplateOperator(
        task_id="tag",
        project_id=PROJECT,
        location=REGION,
        wait_until_finished=True,
        body={
            "launchParameter": {
                "jobName": "mgc-nightly-{{ ds_nodash }}",
                "containerSpecGcsPath": f"gs://{BUCKET}/templates/mgc-tag.json",
                "parameters": {
                    "inputs": f"gs://{BUCKET}/music/",
                    "output": f"gs://{BUCKET}/mgc/tags",
                    "incremental": "true",
                    "sdk_container_image": IMAGE,
                },
                "environment": {
                    "tempLocation": f"gs://{BUCKET}/tmp",
                    "stagingLocation": f"gs://{BUCKET}/staging",
                    "machineType": "n2-standard-2",
                    "maxWorkers": 20,
                    "additionalExperiments": ["use_runner_v2"],
                },
            }
        },
    )
