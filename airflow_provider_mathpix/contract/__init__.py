"""The Mathpix contract as pure data and rules: stdlib only, no Airflow, no httpx, no I/O."""
