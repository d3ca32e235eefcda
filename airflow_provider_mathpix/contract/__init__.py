"""The Mathpix contract as pure data and rules: ids, URIs, options, request bodies, answers, retries.

Nothing here imports Airflow, httpx or any provider module outside ``contract``, and
nothing does I/O, so every rule of ``mathpix-api.md`` is tested in microseconds and
shared by the hook, the operators and the storage walker. The ``requests_*`` modules are
the ONE place that builds request bodies: the hook only sends what they return. Every
rejection raises :class:`~airflow_provider_mathpix.contract.errors.InvalidInput` naming
the field and the rule, so a DAG author learns what to fix before a request is sent.

Modules, one job each: ``ids`` and ``task_ids`` (identifiers), ``uris``, ``formats``,
``callbacks``, ``options``, ``job_limits`` (what a job and a call may hold), ``request``
(:class:`ApiRequest`), ``requests_files`` / ``requests_jobs`` / ``requests_data_sources`` /
``requests_webhooks`` / ``requests_images`` (one per endpoint family), ``answers`` (the
error envelope) and ``retry`` (retryable failures, ``Retry-After``).
"""
