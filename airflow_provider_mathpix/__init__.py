"""Apache Airflow provider for the Mathpix Files API."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def get_provider_info() -> dict[str, Any]:
    """Describe the provider to Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""
    return {
        "package-name": "airflow-provider-mathpix",
        "name": "Mathpix",
        "description": "Convert documents with the Mathpix Files API from Airflow DAGs.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "mathpix",
                "hook-class-name": "airflow_provider_mathpix.hooks.mathpix.MathpixHook",
            }
        ],
        "extra-links": [],
    }
