"""Walking a paginated listing, with no I/O: the next page's request and the loop guard."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_mathpix.contract.request import ApiRequest
from airflow_provider_mathpix.exceptions import MathpixAPIError
from airflow_provider_mathpix.hooks._operation import Listing


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
