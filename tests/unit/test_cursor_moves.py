"""A sweep's rotation cursor moves, written in batches (``service.occurrences.CursorMoves``), on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from zoomguard.service.occurrences import CursorMoves
from zoomguard.store import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def cursors(store: Store, account_pk: int) -> dict[str, str | None]:
    return {meeting: known.cursor for meeting, known in store.occurrences.known(account_pk).items()}


def test_moves_are_written_a_batch_at_a_time_and_the_rest_at_the_end(store: Store) -> None:
    pk = store.accounts.save_s2s("acct-1", "client-1", "secret", name="Org").id
    moves = CursorMoves(store, pk, lambda: T0, batch=2)

    moves.move("555", "1")
    moves.move("555", "2")  # the same meeting again: still one pending move, its latest
    assert cursors(store, pk) == {}

    moves.move("666", "7")  # the batch is full: both are written
    assert cursors(store, pk) == {"555": "2", "666": "7"}

    moves.move("777", "9")
    assert cursors(store, pk) == {"555": "2", "666": "7"}
    moves.write()  # the end of the sweep
    assert cursors(store, pk) == {"555": "2", "666": "7", "777": "9"}
    moves.write()  # nothing left: nothing changes
    assert cursors(store, pk) == {"555": "2", "666": "7", "777": "9"}
