"""Pages cut by sort key (``web/keyset.py``): each item once, in order, even when items leave
the list between two pages; a cursor no list gave is refused."""

from __future__ import annotations

import pytest

from facesight.errors import InvalidInputError
from facesight.web.keyset import keyset_page


def _key(item: tuple[int, str, int]) -> tuple[int, str, int]:
    return item


ITEMS = sorted((-(i % 4), f"path{i % 3}", i) for i in range(1, 23))


def test_every_item_comes_once_in_order_even_when_items_leave_between_pages() -> None:
    items = list(ITEMS)
    seen, after = [], None
    while True:
        page = keyset_page(items, _key, after, 5)
        seen += page.items
        if page.next_after is None:
            break
        after = page.next_after
        items = [i for i in items if i != page.items[-1] and i != page.items[0]]  # decided
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert set(ITEMS) - set(seen) == set()


@pytest.mark.parametrize(
    "after", ["x", "[1,2]", '[1,"a","b"]', '["a","b",3]', '[NaN,"a",1]', "{}", '[true,"a",1]']
)
def test_a_cursor_no_list_gave_is_refused(after: str) -> None:
    with pytest.raises(InvalidInputError, match="not a cursor"):
        keyset_page(ITEMS, _key, after, 5)


def test_the_last_page_has_no_cursor_and_an_empty_list_ends_any_cursor() -> None:
    assert keyset_page(ITEMS, _key, None, 100).next_after is None
    assert keyset_page([], _key, "[1,2,3]", 5).items == []
