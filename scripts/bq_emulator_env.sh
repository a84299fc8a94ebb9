#!/usr/bin/env bash
# Build the local-bigquery emulator's own virtual environment (default .venv-bq).
#
# The emulator needs Python 3.13 and a fastapi that clashes with Airflow's pins, so it cannot live
# in the project venv. Its DuckDB would download extensions at run time; we install them from the
# duckdb-extension-* wheels into DIR/duckdb-home instead, and the test fixture starts the emulator
# with HOME pointing there, so nothing is fetched outside the package index. Idempotent: a stamp
# file (DIR/.built) records the lock and this script; a matching stamp means nothing to do.
#
# Usage: UV=/path/to/uv scripts/bq_emulator_env.sh [DIR]
#   UV          uv executable (default: uv on PATH)
#   BQ_PYTHON   Python 3.13 interpreter (default: pyenv's newest 3.13, else uv's discovery)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:-.venv-bq}"
UV="${UV:-uv}"
LOCK="$ROOT/tests/bigquery/emulator/requirements.lock"
# DuckDB extensions the emulator loads: TimeZone (icu), JSON, Parquet loads, its ducklake catalog,
# and the GEOGRAPHY functions it registers at start-up (spatial).
EXTENSIONS=(icu json parquet ducklake spatial)

stamp_of() {
    cat "$LOCK" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1
}

if [[ -f "$DIR/.built" && "$(cat "$DIR/.built")" == "$(stamp_of)" && -x "$DIR/bin/local-bigquery" ]]; then
    touch "$DIR/.built"  # up to date: tell make so, too
    exit 0
fi

python="${BQ_PYTHON:-}"
if [[ -z "$python" ]] && command -v pyenv >/dev/null 2>&1; then
    for candidate in $(ls -d "$(pyenv root)"/versions/3.13* 2>/dev/null | sort -V -r); do
        if [[ -x "$candidate/bin/python3.13" ]]; then
            python="$candidate/bin/python3.13"
            break
        fi
    done
fi
python="${python:-3.13}"

echo "building the BigQuery emulator environment in $DIR (Python $python)" >&2
rm -f "$DIR/.built"
"$UV" venv --quiet --clear --python "$python" "$DIR"
"$UV" pip install --quiet --python "$DIR/bin/python" --require-hashes -r "$LOCK"

mkdir -p "$DIR/duckdb-home"
HOME="$(cd "$DIR/duckdb-home" && pwd)" "$DIR/bin/python" - "${EXTENSIONS[@]}" <<'PY'
import sys

from duckdb_extensions import import_extension

for name in sys.argv[1:]:
    import_extension(name, force_install=True)
PY

stamp_of >"$DIR/.built"
echo "BigQuery emulator ready: $DIR/bin/local-bigquery" >&2
