"""The emulator's layers, as data: which layer each module of ``testing/`` belongs to.

A module may import modules of its own layer or of a lower one, never of a higher
one, and the imports form no cycle; no module imports an underscore name from
another, and none imports the provider (the emulator is the other party of the
HTTP contract, so the two share no code). ``tests/contract/test_emulator_layers.py``
reads this table without importing the package and checks every import against it.

This module imports nothing, so the table can be read as plain data.
"""

#: Lowest first. Requests come in at ``http`` and go down; nothing below calls up.
LAYER_ORDER = (
    "foundation",  # the contract's rules, shapes and ids; settings; counters. No emulator state.
    "storage",  # the emulator's records and the customer's (emulated) buckets
    "engine",  # work off the request path: fetch workers, source cache, webhooks, faults
    "domain",  # one function per API operation, on the runtime
    "http",  # routes, request parsing, rendering, the fault middleware, the ASGI app
    "harness",  # what tests and shells start: the server, CLI, pytest plugin, storage servers
)

LAYERS = {
    "layers": "foundation",
    "errors": "foundation",
    "ids": "foundation",
    "rules": "foundation",
    "config": "foundation",
    "documents": "foundation",
    "outputs": "foundation",
    "stats": "foundation",
    "records": "storage",
    "state": "storage",
    "buckets": "storage",
    "sources": "engine",
    "events": "engine",
    "processing": "engine",
    "workers": "engine",
    "webhooks": "engine",
    "faults": "engine",
    "runtime": "engine",
    "submissions": "domain",
    "batches": "domain",
    "data_sources": "domain",
    "files": "domain",
    "jobs": "domain",
    "webhook_config": "domain",
    "control": "domain",
    "http": "http",
    "routes_files": "http",
    "routes_misc": "http",
    "fault_middleware": "http",
    "app": "http",
    "server": "harness",
    "__main__": "harness",
    "__init__": "harness",
    "pytest_plugin": "harness",
    "storage_servers": "harness",
    "grants": "harness",
    "processes": "harness",
    "connection_env": "harness",
    "seeded_moto": "harness",
}
