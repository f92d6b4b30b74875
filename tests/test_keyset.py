"""Pages cut by sort key (``web/keyset.py``): each item once, in order, even when items leave
the list between two pages; a key cursor no list gave is refused."""

from __future__ import annotations

import pytest

from facesight.errors import InvalidInputError
from facesight.web.keyset import Key, key_cursor, keyset_page, parse_key

Item = tuple[int, str, int]
ITEMS: list[Item] = sorted((-(i % 4), f"path{i % 3}", i) for i in range(1, 23))


def _key(item: Item) -> Key:
    return item


def test_every_item_comes_once_in_order_even_when_items_leave_between_pages() -> None:
    items = list(ITEMS)
    seen: list[Item] = []
    gone: set[Item] = set()
    after = None
    while True:
        page = keyset_page(items, _key, parse_key(after, _key(items[0])), 5, key_cursor)
        seen += page.items
        if page.next_after is None:
            break
        after = page.next_after
        # the page's last item leaves the list (decided), and so does one not yet shown
        gone.add(items[-1])
        items = [i for i in items if i not in (page.items[-1], items[-1])]
    assert seen == [i for i in ITEMS if i not in gone]


@pytest.mark.parametrize(
    "after", ["x", "[1,2]", '[1,"a","b"]', '["a","b",3]', '[NaN,"a",1]', "{}", '[true,"a",1]']
)
def test_a_cursor_no_list_gave_is_refused(after: str) -> None:
    with pytest.raises(InvalidInputError, match="not a cursor"):
        parse_key(after, ITEMS[0])


def test_the_last_page_has_no_cursor_and_an_empty_list_ends_any_cursor() -> None:
    assert keyset_page(ITEMS, _key, None, 100, key_cursor).next_after is None
    assert parse_key("[1,2,3]", None) is None
