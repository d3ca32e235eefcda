"""``python -m airflow_provider_mathpix.demo`` (what ``make demo`` runs)."""

from __future__ import annotations

from airflow_provider_mathpix.demo.runner import main

raise SystemExit(main())
