"""Walking a paginated listing, with no I/O: the next page's request and the loop guard."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from airflow_provider_mathpix.contract.request import ApiRequest
from airflow_provider_mathpix.exceptions import MathpixAPIError
from airflow_provider_mathpix.hooks._operation import Listing

_TOKEN_KEY = b'"next_page_token"'
_JSON_SPACE = " \t\n\r"
_DECODE = json.JSONDecoder().raw_decode


def guess_token(body: bytes) -> str | None:
    """The ``next_page_token`` of a page's raw body, found without parsing the page; None if unsure.

    A guess, so the next page can be asked for before this one is parsed: the last
    ``"next_page_token"`` followed by ``:`` and a JSON string (escapes decoded). A nested
    member of that name, or an escaped key, can fool it; whoever uses the guess checks it
    against the parsed page, so it only ever costs a request.
    """
    at = body.rfind(_TOKEN_KEY)
    if at < 0:
        return None
    try:
        text = body[at + len(_TOKEN_KEY) :].decode().lstrip(_JSON_SPACE)
        if not text.startswith(":"):
            return None
        value, _ = _DECODE(text[1:].lstrip(_JSON_SPACE))
    except ValueError:  # not UTF-8, or no JSON value there
        return None
    return value if isinstance(value, str) and value else None


class PageWalk:
    """The requests of one listing, page after page, stopping where the API says (or loops).

    ``seen`` grows by one short string per page (a 200,000-file job is 20 pages at the
    default size). A listing that never repeats yet never ends is stopped by its caller,
    who knows how many records the job holds (``manifests.check_listing``).
    """

    def __init__(self, listing: Listing) -> None:
        self.listing = listing
        self.token: str | None = None
        self._seen: set[str] = set()

    def repeats(self, token: str) -> bool:
        """Whether ``token`` was handed out before (asking for it would loop)."""
        return token in self._seen

    def first(self) -> ApiRequest:
        return self.listing.build(None)

    def records(self, page: Mapping[str, Any]) -> list[dict[str, Any]]:
        return page.get(self.listing.key) or []

    def after(self, page: Mapping[str, Any]) -> ApiRequest | None:
        """The request of the page after ``page``, or None at the end.

        A token handed out before means the listing loops (a, b, a, b...): that is an
        ``invalid_response``, never an endless walk.
        """
        token = page.get("next_page_token")
        if not token:
            return None
        token = str(token)
        if token in self._seen:
            req = self.listing.build(self.token)
            raise MathpixAPIError(
                "invalid_response",
                200,
                f"the API handed out page token {token[:40]!r} a second time (repeated after "
                f"{len(self._seen)} pages): the listing would never end",
                method=req.method,
                path=req.path,
            )
        self._seen.add(token)
        self.token = token
        return self.listing.build(token)
