"""Path "parse floor": stream the NDJSON with orjson and parse every request/response body too.

Nothing is kept, normalized or written: this is the least any loader of these records must do, the
practical floor the other paths are compared with. Prints one JSON line: records, seconds.
"""

from __future__ import annotations

import argparse
import json
import time

import orjson


def parse(path: str) -> tuple[int, int]:
    """Parse every line and every JSON body of ``path``; return (records, bodies that are not JSON)."""
    records = not_json = 0
    loads, error = orjson.loads, orjson.JSONDecodeError
    with open(path, "rb", buffering=1 << 20) as handle:
        for line in handle:
            record = loads(line)
            for key in ("request", "response"):
                body = record[key]
                if body is not None:
                    try:
                        loads(body)
                    except error:
                        not_json += 1
            records += 1
    return records, not_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("dataset", help="NDJSON file from bench/dataset.py")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    records, not_json = parse(args.dataset)
    seconds = time.perf_counter() - started
    print(json.dumps({"records": records, "seconds": seconds, "bodies_not_json": not_json}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
