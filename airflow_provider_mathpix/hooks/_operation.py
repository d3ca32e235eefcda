"""An endpoint written once: a generator that says what to send, run by a sync or an async driver.

An operation builds its requests from ``contract`` and shapes the answers, but performs
no I/O itself: it ``yield``\\s a step (:class:`Send` a request, :class:`Mask` a secret,
:data:`SETTINGS` to learn the connection) and is resumed with the outcome, or has the
failure thrown in at the ``yield`` (so its ``finally`` and ``except`` run as in a plain
function). The hook's ``_run`` performs the steps with blocking calls, ``_arun`` with
awaits; that is the only place the two paths differ, as in httpcore's sans-I/O design.

:class:`endpoint` and :class:`listing` turn one such definition into the public method
and its ``a``-prefixed async twin, so a path, a validation or a log line is written once.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import types
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

from airflow_provider_mathpix.contract.request import ApiRequest
from airflow_provider_mathpix.exceptions import validation_errors
from airflow_provider_mathpix.hooks._io import DownloadSink, UploadSource

P = ParamSpec("P")
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
R_co = TypeVar("R_co", covariant=True)


@dataclass(frozen=True)
class Send:
    """Send ``req`` (under the retry policy); the operation is resumed with the answer.

    The answer is the JSON payload, the body's bytes when ``raw``, or the byte count
    written into ``sink``. ``upload`` is the file part of a multipart request.
    """

    req: ApiRequest
    upload: UploadSource | None = None
    sink: DownloadSink | None = None
    raw: bool = False


@dataclass(frozen=True)
class Mask:
    """Redact ``secret`` from logs like the app_key (a credential passed as an argument)."""

    secret: str


class _Settings:
    """Ask for the connection's ``ClientSettings`` (read once per hook, cached)."""

    def __repr__(self) -> str:
        return "SETTINGS"


SETTINGS = _Settings()

Step = Send | Mask | _Settings
#: What an endpoint is: yields steps, receives their outcomes, returns the method's result.
Operation = Generator[Step, Any, T]


@dataclass(frozen=True)
class Listing:
    """A paginated GET: ``build(token)`` is the request of one page, ``key`` the records' field."""

    build: Callable[[str | None], ApiRequest]
    key: str


class Stepper(Generic[T]):
    """Walk an operation: iterate for its steps, hand each step's outcome back before the next.

    The one loop both drivers share: ``for step in steps: steps.outcome(perform, step)``
    (or ``await steps.aoutcome(...)``), then ``steps.result``. A failure of a step is
    thrown into the operation at its ``yield``; any exception, cancellation included, so
    the operation's ``finally`` (a download's cleanup) runs at once.
    """

    def __init__(self, operation: Operation[T]) -> None:
        self._operation = operation
        self._reply: Any = None
        self._error: BaseException | None = None
        self.result: T

    def __iter__(self) -> Stepper[T]:
        return self

    def __next__(self) -> Step:
        reply, error = self._reply, self._error
        self._reply = self._error = None
        try:
            if error is not None:
                return self._operation.throw(error)
            return self._operation.send(reply)
        except StopIteration as done:
            self.result = done.value
            raise StopIteration from None

    def outcome(self, perform: Callable[[Step], Any], step: Step) -> None:
        try:
            self._reply = perform(step)
        except BaseException as exc:
            self._error = exc

    async def aoutcome(self, perform: Callable[[Step], Awaitable[Any]], step: Step) -> None:
        try:
            self._reply = await perform(step)
        except BaseException as exc:
            self._error = exc


class Runner(Protocol):
    """What drives operations: the hook."""

    def _run(self, operation: Operation[T]) -> T: ...

    async def _arun(self, operation: Operation[T]) -> T: ...

    def _pages(self, listing: Listing) -> Iterator[dict[str, Any]]: ...

    def _apages(self, listing: Listing) -> AsyncGenerator[list[dict[str, Any]], None]: ...


def _public(method: Any, source: Callable[..., Any], name: str, returns: str, doc: str | None) -> None:
    """Give a generated method the name, docstring and signature of its definition.

    ``inspect.signature`` shows the definition's parameters, and as return annotation
    what the caller gets (not the operation).
    """
    functools.update_wrapper(method, source)
    method.__name__ = name
    method.__qualname__ = f"{source.__qualname__.rpartition('.')[0]}.{name}".lstrip(".")
    method.__doc__ = doc
    method.__annotations__ = {**source.__annotations__, "return": returns}
    method.__signature__ = inspect.signature(source).replace(return_annotation=returns)


def _result_annotation(source: Callable[..., Any]) -> str:
    """``Operation[X]`` -> ``X``: what the caller of the generated method gets."""
    declared = str(source.__annotations__.get("return", "Any"))
    return declared[len("Operation[") : -1] if declared.startswith("Operation[") else declared


def _twin_doc(name: str, doc: str | None) -> str:
    return f"Async twin of :meth:`{name}`: the same arguments and result, awaited.\n\n{doc or ''}".rstrip()


class endpoint(Generic[P, T_co]):  # lower case: used as a decorator, like property
    """Declare an endpoint once, as an operation; the class gets the method and its async twin.

    ``@endpoint`` on ``def get_file(self, file_id) -> Operation[dict]`` gives ``get_file(file_id)
    -> dict`` (blocking) and, through ``aget_file = get_file.asynchronous``, ``await
    aget_file(file_id)``. Both translate the contract's ``InvalidInput`` into
    ``MathpixValidationError`` (in the drivers, see ``exceptions.validation_errors``).
    The two functions are built once here; an attribute access only binds them.
    """

    def __init__(self, operation: Callable[Concatenate[Any, P], Operation[T_co]]) -> None:
        self.name = name = operation.__name__

        def run(hook: Runner, *args: Any, **kwargs: Any) -> Any:
            return hook._run(operation(hook, *args, **kwargs))

        async def arun(hook: Runner, *args: Any, **kwargs: Any) -> Any:
            return await hook._arun(operation(hook, *args, **kwargs))

        _public(run, operation, name, _result_annotation(operation), operation.__doc__)
        _public(
            arun,
            operation,
            f"a{name}",
            _result_annotation(operation),
            _twin_doc(name, operation.__doc__),
        )
        self.run, self.arun = run, arun

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> endpoint[P, T_co]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> Callable[P, T_co]: ...

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        return self if obj is None else types.MethodType(self.run, obj)

    @property
    def asynchronous(self) -> Callable[Concatenate[Any, P], Awaitable[T_co]]:
        """The async twin, a plain ``async def`` function: Python binds it like any method."""
        return self.arun


class listing(Generic[P]):  # lower case: used as a decorator, like property
    """Declare a paginated listing once; the class gets the iterator and its async-iterator twin.

    The decorated function validates its arguments and returns a :class:`Listing`. The sync
    method validates at the call (bad input fails before the first ``next()``); the async
    twin is an async generator, so it validates on its first iteration. The async driver
    hands it whole pages, so a record costs one async-generator step, not one per layer
    (a 100,000-file listing is 100,000 of them).
    """

    def __init__(self, describe: Callable[Concatenate[Any, P], Listing]) -> None:
        self.name = name = describe.__name__

        def pages(hook: Runner, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
            with validation_errors():
                walk = describe(hook, *args, **kwargs)
            return hook._pages(walk)

        async def apages(hook: Runner, *args: Any, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
            with validation_errors():
                walk = describe(hook, *args, **kwargs)
            # Closed with this generator, not whenever it is collected: its page fetched
            # ahead is cancelled as soon as the consumer closes the listing.
            async with contextlib.aclosing(hook._apages(walk)) as pages:
                async for page in pages:
                    for record in page:
                        yield record

        _public(pages, describe, name, "Iterator[dict[str, Any]]", describe.__doc__)
        _public(
            apages, describe, f"a{name}", "AsyncIterator[dict[str, Any]]", _twin_doc(name, describe.__doc__)
        )
        self.pages, self.apages = pages, apages

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> listing[P]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> Callable[P, Iterator[dict[str, Any]]]: ...

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        return self if obj is None else types.MethodType(self.pages, obj)

    @property
    def asynchronous(self) -> Callable[Concatenate[Any, P], AsyncIterator[dict[str, Any]]]:
        """The async twin, a plain async generator function: Python binds it like any method."""
        return self.apages
