"""The Mathpix connection form and its defaults, as plain data.

Kept free of imports (Airflow's included) because ``get_provider_info()`` returns it,
and Airflow calls that while it is itself still importing.
"""

from __future__ import annotations

from typing import Any

DEFAULT_BASE_URL = "https://api.mathpix.com"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 5
DEFAULT_RETRY_MAX_WAIT = 60.0
DEFAULT_RETRY_DEADLINE = 600.0
DEFAULT_REQUEST_TIMEOUT = 300.0

#: The connection form, declared as Airflow >= 3.2 wants it in ``get_provider_info()``
#: ("connection-types" → "ui-field-behaviour" and "conn-fields"): the UI reads these
#: without importing the hook. ``MathpixHook.get_ui_field_behaviour`` serves the same
#: relabelling to older Airflow 3 releases.
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port"],
    "relabeling": {"login": "App ID", "password": "App Key", "host": "API URL"},
    "placeholders": {
        "host": DEFAULT_BASE_URL,
        "login": "app_id (needed only for /v3 image batches)",
        "password": "app_key",
    },
}
CONN_FIELDS: dict[str, Any] = {
    "timeout": {
        "label": "Timeout (seconds)",
        "description": "Time allowed for each network operation of one request.",
        "schema": {"type": ["number", "null"], "default": DEFAULT_TIMEOUT},
    },
    "request_timeout": {
        "label": "Request timeout (seconds)",
        "description": "Time allowed for one whole request, answer included (a trickle cannot outlast it).",
        "schema": {"type": ["number", "null"], "default": DEFAULT_REQUEST_TIMEOUT},
    },
    "max_retries": {
        "label": "Max retries",
        "description": "Retries of one call after a transient failure (429, 5xx, timeouts); 0 disables.",
        "schema": {"type": ["integer", "null"], "default": DEFAULT_MAX_RETRIES},
    },
    "retry_max_wait": {
        "label": "Max wait between retries (seconds)",
        "description": "Cap of any single wait, including a server's Retry-After.",
        "schema": {"type": ["number", "null"], "default": DEFAULT_RETRY_MAX_WAIT},
    },
    "retry_deadline": {
        "label": "Retry deadline (seconds)",
        "description": "Cap of one call: every attempt and every wait between them.",
        "schema": {"type": ["number", "null"], "default": DEFAULT_RETRY_DEADLINE},
    },
}
