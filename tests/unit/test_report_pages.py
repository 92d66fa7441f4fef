"""The report page cache (services/report_pages.py): served only at the version it was read at, bounded by bytes."""

from __future__ import annotations

from fota.services.ports import ReportVersion, WrittenItems
from fota.services.report_pages import PageKey, ReportPages

V1 = ReportVersion(changes=1, devices=10)


def _key(after: str = "") -> PageKey:
    return PageKey("c1", after, 1000, None)


def _page(size: int) -> WrittenItems:
    return WrittenItems("x" * size, 1, "350000000000000", False)


def test_a_page_is_served_at_its_version_only() -> None:
    pages = ReportPages()
    assert pages.get(_key(), V1) is None
    pages.put(_key(), V1, _page(10))
    assert pages.get(_key(), V1) == _page(10)
    assert pages.get(_key("350000000000000"), V1) is None
    assert pages.get(_key(), ReportVersion(changes=2, devices=10)) is None
    assert pages.get(_key(), ReportVersion(changes=1, devices=11)) is None
    assert pages.get(_key(), V1) is None  # a page found stale is dropped
    assert pages.bytes == 0


def test_the_least_recently_used_pages_go_first_past_the_bound() -> None:
    pages = ReportPages(max_bytes=30)
    for after in ("a", "b", "c"):
        pages.put(_key(after), V1, _page(10))
    assert pages.get(_key("a"), V1) is not None  # "b" is now the least recently used
    pages.put(_key("d"), V1, _page(10))
    assert [after for after in "abcd" if pages.get(_key(after), V1) is not None] == ["a", "c", "d"]
    assert pages.bytes == 30


def test_a_page_put_again_replaces_the_old_one_and_its_bytes() -> None:
    pages = ReportPages(max_bytes=100)
    pages.put(_key(), V1, _page(40))
    pages.put(_key(), ReportVersion(changes=2, devices=10), _page(20))
    assert (len(pages), pages.bytes) == (1, 20)


def test_a_page_larger_than_the_bound_is_not_kept() -> None:
    pages = ReportPages(max_bytes=10)
    pages.put(_key("a"), V1, _page(5))
    pages.put(_key("b"), V1, _page(11))
    assert pages.get(_key("b"), V1) is None
    assert pages.get(_key("a"), V1) is not None
