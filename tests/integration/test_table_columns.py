"""A table's columns over many windows: map-shaped objects stay JSON, the column cap is the table's.

Each window is staged against the table's current columns and replaced, as ``load.py`` does, into
a DuckDB file; the assertions read the table back.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from tests.windows import api_record, day, load_records

from daily_provider.normalize import NormalizeConfig
from daily_provider.schema import FIXED_COLUMNS, ColumnType
from daily_provider.warehouses.duckdb import DuckDBWarehouse

TABLE = "daily_api_logs"


@pytest.fixture
def warehouse(tmp_path: Path):
    with DuckDBWarehouse(tmp_path / "columns.duckdb", memory_limit="512MB", threads=1) as opened:
        yield opened


def flattened(warehouse: DuckDBWarehouse) -> dict[str, ColumnType]:
    return {name: kind for name, kind in warehouse.table_columns(TABLE).items() if name not in FIXED_COLUMNS}


def query(warehouse: DuckDBWarehouse, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    try:
        return warehouse.connect().execute(sql, list(params)).fetchall()
    finally:
        warehouse.close()


def room_name(number: int) -> str:
    return f"standup-{number:04d}-{(number * 7919) % 10007:05d}"


def presence(window_number: int, index: int, rooms: list[str]) -> dict[str, Any]:
    return {
        room: [
            {
                "room": room,
                "id": f"p-{window_number}-{index}-{seat}",
                "userId": f"user-{seat}@example.com",
                "userName": f"Person {seat}",
                "joinTime": "2024-03-15T08:00:00.000Z",
                "duration": 60 * (seat + 1),
            }
            for seat in range(2)
        ]
        for room in rooms
    }


def test_presence_keyed_by_5000_room_names_over_10_windows_adds_no_room_column(warehouse, tmp_path):
    load_presence_windows(warehouse, tmp_path, NormalizeConfig())
    columns = flattened(warehouse)
    assert set(columns) == {"response__name", "response__config__max_participants"}
    assert not [name for name in columns if "standup" in name]
    # The room's participants are one JSON lookup away.
    room = room_name(4242)
    rows = query(
        warehouse,
        f"SELECT json_extract(response, ?) FROM {TABLE} WHERE endpoint = '/v1/presence' "
        "AND json_extract(response, ?) IS NOT NULL",
        f'$."{room}"',
        f'$."{room}"',
    )
    assert len(rows) == 1
    participants = json.loads(rows[0][0])
    assert [p["room"] for p in participants] == [room, room]
    assert [p["duration"] for p in participants] == [60, 120]


def load_presence_windows(warehouse, tmp_path, config: NormalizeConfig) -> None:
    """10 windows of presence answers keyed by 5,000 room names, and a room's own answer beside them
    (its fields do become columns)."""
    for number in range(10):
        window = day(number)
        rooms = [room_name(number * 500 + offset) for offset in range(500)]
        records = [
            api_record(
                window, index, method="GET", url="/v1/presence", response=presence(number, index, chunk)
            )
            for index, chunk in enumerate(rooms[start : start + 5] for start in range(0, 500, 5))
        ]
        records.append(
            api_record(
                window,
                100,
                method="GET",
                url="/v1/rooms/standup-0001",
                response={"name": "standup-0001", "config": {"maxParticipants": 4}},
            )
        )
        load_records(warehouse, tmp_path, window, records, table=TABLE, config=config)


def test_map_rule_at_a_body_root_catches_presence_when_nobody_declared_it(warehouse, tmp_path):
    # default_map_paths=False declares none of Daily's known maps: the rule alone ({path: False}
    # would say "never a map", which also overrules the rule).
    config = NormalizeConfig(default_map_paths=False)
    load_presence_windows(warehouse, tmp_path, config)
    columns = flattened(warehouse)
    # The rule, per endpoint: presence's root is a map; the room's own answer still flattens.
    assert set(columns) == {"response__name", "response__config__max_participants"}
    assert warehouse.map_bodies(TABLE) == {("GET", "/v1/presence", "response")}
    room = room_name(4242)
    rows = query(
        warehouse,
        f"SELECT json_extract(response, ?) FROM {TABLE} WHERE json_extract(response, ?) IS NOT NULL",
        f'$."{room}"',
        f'$."{room}"',
    )
    assert [[p["room"] for p in json.loads(value)] for (value,) in rows] == [[room, room]]
    # A later window with 3 rooms (3 keys, far under the threshold) adds no room column either.
    window = day(10)
    few = [api_record(window, 0, method="GET", url="/v1/presence", response=presence(10, 0, ["a", "b", "c"]))]
    load_records(warehouse, tmp_path, window, few, table=TABLE, config=config)
    assert set(flattened(warehouse)) == set(columns)
    stored = query(warehouse, f"SELECT response FROM {TABLE} WHERE id = ?", few[0]["id"])
    assert set(json.loads(stored[0][0])) == {"a", "b", "c"}


def test_map_rule_at_a_body_root_drops_the_columns_of_rows_staged_before_it_decided(warehouse, tmp_path):
    # Presence shows 5 rooms a record: the first 10 records (50 keys) flatten, the 11th passes the
    # threshold. Their room columns go, and so do their values in a column another endpoint shares.
    window = day(0)
    config = NormalizeConfig(default_map_paths=False)
    records = [
        api_record(window, 0, method="GET", url="/v1/rooms/standup-0001", response={"name": "standup-0001"})
    ]
    for index in range(1, 13):
        body = {**presence(0, index, [room_name(index * 5 + offset) for offset in range(5)])}
        if index == 1:
            body["name"] = "shared-key"
        records.append(api_record(window, index, method="GET", url="/v1/presence", response=body))
    load_records(warehouse, tmp_path, window, records, table=TABLE, config=config, chunk_rows=4)
    assert set(flattened(warehouse)) == {"response__name"}
    names = query(warehouse, f"SELECT endpoint, response__name FROM {TABLE} WHERE response__name IS NOT NULL")
    assert names == [("/v1/rooms/{name}", "standup-0001")]


def test_an_undeclared_body_root_with_few_keys_per_endpoint_flattens(warehouse, tmp_path):
    # 40 endpoints with 5 keys each: 200 keys at the root, but no endpoint shows more than 50.
    window = day(0)
    records = [
        api_record(
            window,
            index,
            method="GET",
            url=f"/v1/thing-{index}",
            response={f"k{index}_{n}": n for n in range(5)},
        )
        for index in range(40)
    ]
    load_records(
        warehouse, tmp_path, window, records, table=TABLE, config=NormalizeConfig(default_map_paths=False)
    )
    assert len(flattened(warehouse)) == 200
    assert warehouse.map_bodies(TABLE) == set()


def stats_body(keys: range) -> dict[str, Any]:
    return {"window": "x", "stats": {f"region-{key}": key for key in keys}, "config": {"lang": "en"}}


def test_a_path_with_many_keys_stays_json_in_every_later_window_and_one_with_few_flattens(
    warehouse, tmp_path
):
    # Window 0: each record shows 4 keys of "stats", 80 over the window (more than the default 50),
    # so the rule makes it a map midway; rows staged before that also get it as JSON.
    window = day(0)
    records = [
        api_record(window, index, url="/v1/stats", response=stats_body(range(index * 4, index * 4 + 4)))
        for index in range(20)
    ]
    load_records(warehouse, tmp_path, window, records, table=TABLE)
    columns = flattened(warehouse)
    assert columns == {
        "response__window": ColumnType.STRING,
        "response__stats": ColumnType.JSON,
        "response__config__lang": ColumnType.STRING,
    }
    first = query(warehouse, f"SELECT response__stats FROM {TABLE} WHERE id = ?", records[0]["id"])
    assert json.loads(first[0][0]) == {"region-0": 0, "region-1": 1, "region-2": 2, "region-3": 3}
    # Later windows show only 2 keys: the path stays one JSON column.
    for number in (1, 2):
        window = day(number)
        records = [
            api_record(window, index, url="/v1/stats", response=stats_body(range(2))) for index in range(3)
        ]
        load_records(warehouse, tmp_path, window, records, table=TABLE)
        assert flattened(warehouse) == columns
    values = query(warehouse, f"SELECT response__stats FROM {TABLE} WHERE id LIKE '20240317%'")
    assert [json.loads(value) for (value,) in values] == [{"region-0": 0, "region-1": 1}] * 3


def test_a_flattened_path_stays_flattened_and_a_declared_map_stays_json(warehouse, tmp_path):
    config = NormalizeConfig(map_paths=["response.byUser"])
    window = day(0)
    body = {"stats": {"a": 1, "b": 2}, "byUser": {"u1": 1, "u2": 2}}
    load_records(
        warehouse, tmp_path, window, [api_record(window, 0, response=body)], table=TABLE, config=config
    )
    assert flattened(warehouse) == {
        "response__stats__a": ColumnType.INT64,
        "response__stats__b": ColumnType.INT64,
        "response__by_user": ColumnType.JSON,
    }
    # Next window: "stats" shows 60 keys, but the table flattens it already; byUser is not declared
    # any more, but the table keeps it as JSON.
    window = day(1)
    body = {"stats": {f"k{key}": key for key in range(60)}, "byUser": {"u3": 3}}
    load_records(warehouse, tmp_path, window, [api_record(window, 0, response=body)], table=TABLE)
    columns = flattened(warehouse)
    assert "response__by_user__u3" not in columns
    assert len([name for name in columns if name.startswith("response__stats__")]) == 62


def test_undeclaring_a_map_path_flattens_it(warehouse, tmp_path):
    window = day(0)
    body = {"version": "1.0.0", "payload": {"sip_headers": {"X-Call-Id": "c1"}}}
    record = api_record(window, 0, url="/v1/hook", request=body)
    load_records(warehouse, tmp_path, window, [record], table=TABLE)
    assert flattened(warehouse)["request__payload__sip_headers"] is ColumnType.JSON
    config = NormalizeConfig(map_paths={"request.payload.sip_headers": False})
    load_records(
        warehouse, tmp_path, day(1), [api_record(day(1), 0, request=body)], table=TABLE, config=config
    )
    assert flattened(warehouse)["request__payload__sip_headers__x_call_id"] is ColumnType.STRING


def test_max_columns_caps_the_table_and_later_keys_stay_in_json(warehouse, tmp_path, caplog):
    # The cap alone: 400 keys at one endpoint's body root are a map by the key-count rule, so the
    # rule is off here (test_map_rule_at_a_body_root_* show it on).
    config = NormalizeConfig(max_columns=1000, map_key_threshold=None)
    counts = []
    for number in range(3):
        window = day(number)
        records = [
            api_record(
                window,
                index,
                request={f"w{number}_key_{key:03d}": key for key in range(index * 100, index * 100 + 100)},
            )
            for index in range(4)
        ]
        with caplog.at_level(logging.WARNING, logger="daily_provider.staging"):
            caplog.clear()
            stats = load_records(warehouse, tmp_path, window, records, table=TABLE, config=config)
        counts.append(len(flattened(warehouse)))
        warnings = [r for r in caplog.records if "max_columns" in r.getMessage()]
        assert len(warnings) == (1 if number == 2 else 0)
        assert stats.keys_in_json == (200 if number == 2 else 0)
    assert counts == [400, 800, 1000]
    assert "200 keys" in warnings[0].getMessage()
    # A key past the cap is still in the request JSON column.
    rows = query(
        warehouse,
        f"SELECT json_extract(request, '$.w2_key_399') FROM {TABLE} WHERE id = ?",
        "20240317-000003",
    )
    assert json.loads(rows[0][0]) == 399
    assert query(warehouse, f"SELECT count(*) FROM {TABLE}") == [(12,)]


def test_a_table_with_the_old_hashed_names_gains_the_snake_case_ones_and_says_so_once(
    warehouse, tmp_path, caplog
):
    # A table as 0.1 left it: callId's column had a hash, a lowercase key kept its name.
    first = day(0)
    old = api_record(first, 0, request={"name": "r"})
    load_records(warehouse, tmp_path, first, [old], table=TABLE)
    query(warehouse, f'ALTER TABLE {TABLE} ADD COLUMN "request__callid_5e9c026c" VARCHAR')
    query(warehouse, f"UPDATE {TABLE} SET request__callid_5e9c026c = 'old-call'")

    messages = []
    for number in (1, 2):
        window = day(number)
        with caplog.at_level(logging.INFO, logger="daily_provider.staging"):
            caplog.clear()
            load_records(
                warehouse,
                tmp_path,
                window,
                [api_record(window, 0, request={"name": "r", "callId": "c"})],
                table=TABLE,
            )
        messages.append([r.getMessage() for r in caplog.records if "naming rule of 0.1" in r.getMessage()])
    assert len(messages[0]) == 1 and "request__callid_5e9c026c" in messages[0][0]
    assert messages[1] == []  # the new column exists now: nothing more to say
    columns = flattened(warehouse)
    assert {"request__name", "request__callid_5e9c026c", "request__call_id"} <= set(columns)
    assert query(
        warehouse, f"SELECT request__callid_5e9c026c, request__call_id FROM {TABLE} ORDER BY id"
    ) == [
        ("old-call", None),
        (None, "c"),
        (None, "c"),
    ]


def test_a_table_at_the_cap_with_old_names_still_moves_to_the_new_names(warehouse, tmp_path, caplog):
    first = day(0)
    load_records(warehouse, tmp_path, first, [api_record(first, 0, request={"name": "r"})], table=TABLE)
    query(warehouse, f'ALTER TABLE {TABLE} ADD COLUMN "request__callid_5e9c026c" VARCHAR')
    config = NormalizeConfig(max_columns=2)  # the table has 2 flattened columns: at the cap
    window = day(1)
    record = api_record(window, 0, request={"name": "r", "callId": "c", "brandNew": 1})
    with caplog.at_level(logging.WARNING, logger="daily_provider.staging"):
        stats = load_records(warehouse, tmp_path, window, [record], table=TABLE, config=config)
    assert "request__call_id" in flattened(warehouse)  # replaces the old column, so it is allowed
    assert "request__brand_new" not in flattened(warehouse)  # a new key past the cap stays in JSON
    assert stats.keys_in_json == 1
