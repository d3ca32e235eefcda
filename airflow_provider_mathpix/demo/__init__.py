"""The main job: the flagship pipeline on the bundled Mathpix emulator and an emulated S3.

``python -m airflow_provider_mathpix.demo`` (what ``make demo`` runs) needs no API key and
no network. ``--real`` with ``MATHPIX_APP_KEY`` set runs the same DAG against
api.mathpix.com instead. See ``docs/getting-started.md``.
"""
