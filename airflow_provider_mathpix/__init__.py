"""Apache Airflow provider for the Mathpix Files API."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_INTEGRATION = "Mathpix"


def get_provider_info() -> dict[str, Any]:
    """Describe the provider to Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

    The connection form (relabelled fields, extras) is declared here rather than only on
    the hook because Airflow >= 3.2 builds the UI form from provider info without
    importing the hook.
    """
    from airflow_provider_mathpix.hooks.connection_form import CONN_FIELDS, UI_FIELD_BEHAVIOUR

    return {
        "package-name": "airflow-provider-mathpix",
        "name": "Mathpix",
        "description": "Convert documents with the Mathpix Files API from Airflow DAGs.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://mathpix.com/docs/convert/overview",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": ["airflow_provider_mathpix.hooks.mathpix"],
            }
        ],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_provider_mathpix.operators.files",
                    "airflow_provider_mathpix.operators.jobs",
                    "airflow_provider_mathpix.operators.outputs",
                    "airflow_provider_mathpix.operators.images",
                    "airflow_provider_mathpix.operators.data_sources",
                    "airflow_provider_mathpix.operators.sql",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": ["airflow_provider_mathpix.sensors.mathpix"],
            }
        ],
        "triggers": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_provider_mathpix.triggers.mathpix",
                    "airflow_provider_mathpix.triggers.events",
                ],
            }
        ],
        "config": {
            "mathpix": {
                "description": "Defaults of the Mathpix provider.",
                "options": {
                    "manifest_base": {
                        "description": (
                            "Folder for job manifests when a task gives no manifest_path: shared "
                            "storage every worker can read (a downstream read_manifest may run on "
                            "another worker). Unset: the object-storage XCom backend's path when "
                            "that backend is configured, else $AIRFLOW_HOME/mathpix/manifests on "
                            "the worker's own disk (warned about under a distributed executor)."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "s3://my-bucket/mathpix/manifests",
                        "default": None,
                    },
                    "manifest_conn_id": {
                        "description": (
                            "Storage connection for manifest_base (default: the scheme's own, "
                            "aws_default, google_cloud_default or wasb_default)."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "aws_default",
                        "default": None,
                    },
                },
            }
        },
        "connection-types": [
            {
                "connection-type": "mathpix",
                "hook-class-name": "airflow_provider_mathpix.hooks.mathpix.MathpixHook",
                "hook-name": "Mathpix",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            }
        ],
    }
