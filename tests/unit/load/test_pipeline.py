"""kiai.load.pipeline.read_ahead: the items in order, each touched in the reading thread, errors raised to the
consumer, and a consumer that stops early stops the thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from kiai.load.pipeline import read_ahead


def test_items_come_in_order_and_are_touched_in_the_reading_thread():
    touched: list[tuple[int, str]] = []
    got = list(read_ahead(range(10), depth=2, touch=lambda i: touched.append((i, threading.current_thread().name))))
    assert got == list(range(10))
    assert [i for i, _ in touched] == list(range(10))
    assert {name for _, name in touched} == {"kiai-read-ahead"}


def test_an_error_of_the_items_is_raised_to_the_consumer_after_the_items_before_it():
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise OSError("disk gone")

    got: list[int] = []
    with pytest.raises(OSError, match="disk gone"):
        for item in read_ahead(items()):
            got.append(item)
    assert got == [1, 2]


def test_a_consumer_that_stops_stops_the_reading_thread():
    made: list[int] = []
    finished = threading.Event()

    def items() -> Iterator[int]:
        try:
            for i in range(1_000):
                made.append(i)
                yield i
        finally:
            finished.set()

    ahead = read_ahead(items(), depth=2)
    assert next(ahead) == 0
    ahead.close()
    assert finished.wait(5)  # the thread dropped the items at its next one
    assert len(made) <= 5
