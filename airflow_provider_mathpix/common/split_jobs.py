"""Running a job split by ``max_files_per_job``: submit part after part, wait in turn, report as one.

The naming of parts is in :mod:`~airflow_provider_mathpix.common.job_parts` (pure);
this module holds the orchestration the job operator runs, with the operator's own
submit and wait handed in, so the operator keeps only its arguments and hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from airflow_provider_mathpix.common.failures import finished_as
from airflow_provider_mathpix.common.job_parts import iter_parts, part_index, part_job_id, part_job_ids
from airflow_provider_mathpix.common.job_report import JobFinish, finish_jobs
from airflow_provider_mathpix.common.outputs import JobOutputs
from airflow_provider_mathpix.common.waiting import job_counters
from airflow_provider_mathpix.contract.events import JobFinished, WaitEvent
from airflow_provider_mathpix.hooks.mathpix import MathpixHook

#: Submit ``items`` into the job named by the second argument; the hook's result dict.
Submit = Callable[[Iterator[dict[str, Any]], str], Mapping[str, Any]]
#: Wait for one part (its id, its 1-based index): the event, or a deferral.
WaitPart = Callable[[str, int], WaitEvent]


def submit_parts(
    items: Iterator[dict[str, Any]], job_id: str, max_files: int, submit: Submit
) -> tuple[list[str], int]:
    """Submit ``items`` as consecutive jobs of at most ``max_files`` files: (part ids, files).

    Streaming: part ``k`` is filled from the stream (through the hook's chunked
    submission) before part ``k+1`` is started, so memory holds one request chunk,
    never the listing.
    """
    part_ids: list[str] = []
    file_count = 0
    for index, part in enumerate(iter_parts(items, max_files), start=1):
        part_id = part_job_id(job_id, index)
        result = submit(part, part_id)
        part_ids.append(part_id)
        file_count += int(result.get("file_count") or 0)
    return part_ids, file_count


def wait_parts(
    hook: MathpixHook,
    job_id: str,
    part_count: int,
    start: int,
    wait: WaitPart,
    *,
    outputs: JobOutputs,
    finish: JobFinish,
    log: Any,
) -> dict[str, Any]:
    """Wait for parts ``start..part_count`` in turn, then report all parts as one (the job XCom).

    Deferrable: each part is checked once and a trigger is created only for the first
    unfinished one -- one trigger per job at a time, never one per file; the resume
    carries the part number and the deadline on.
    """
    for index in range(start, part_count + 1):
        finished_as(wait(part_job_id(job_id, index), index), JobFinished)
    part_ids = part_job_ids(job_id, part_count)
    # Every part is complete: one GET each gives the counters the report sums.
    events = [job_counters(hook, part_id) for part_id in part_ids]
    return finish_jobs(hook, job_id, events, outputs=outputs, finish=finish, log=log)


def resume_point(
    job_id: str,
    finished: JobFinished,
    part: int | None,
    part_count: int | None,
    pushed_count: Callable[[], Any],
) -> tuple[int, int]:
    """(the part that finished, how many parts) on resuming after a part's trigger.

    The deferral's kwargs say so; a runner that replaces them by the event (``dag.test()``
    does) leaves the part named by the event and the count pushed before deferring.
    """
    if part is not None and part_count is not None:
        return part, part_count
    return part_index(job_id, finished.job_id), int(pushed_count())
