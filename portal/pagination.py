"""The API's page shape (its own module: DRF imports it while importing its generic views)."""

from __future__ import annotations

from rest_framework import pagination
from rest_framework.request import Request


class Pagination(pagination.LimitOffsetPagination):
    """limit/offset pages; a limit over 1000 is cut, an offset past any table is the end.

    Unbounded, an offset of 2**63 reached the database and failed there (a 500).
    """

    max_limit = 1000
    max_offset = 2**31

    def get_offset(self, request: Request) -> int:
        return min(super().get_offset(request), self.max_offset)
