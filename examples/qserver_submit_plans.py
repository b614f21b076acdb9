"""Submit a list of plans to the Bluesky Queue Server and wait for each one.

The plans come from a YAML file (a list of items) or a CSV file with the columns
``name``, ``args`` and ``kwargs`` (the last two as JSON)::

    # plans.yaml
    - {name: count, args: [[det1, det2]], kwargs: {num: 3}}
    - {name: scan, args: [[det1], motor, -1, 1], kwargs: {num: 5}}

    $ export QSERVER_HTTP_SERVER_API_KEY=...      # or --api-key-file / the config file
    $ python examples/qserver_submit_plans.py plans.yaml
    {"name": "count", "item_uid": "…", "exit_status": "completed", "run_uids": ["…"], "msg": ""}

Each plan is checked against the server's allowed plans and devices before anything is
sent, then run one at a time; one JSON line per plan is printed. Exit 0 when every plan
completed, 1 when one failed (the rest are not submitted).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import tether
from tether_qserver.plan import normalize_item, parse_items


def read_plans(path: Path) -> list[dict]:
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            return [
                normalize_item(
                    {
                        "name": row["name"].strip(),
                        "args": json.loads(row.get("args") or "[]"),
                        "kwargs": json.loads(row.get("kwargs") or "{}"),
                    },
                    where=f"row {n} of {path}",
                )
                for n, row in enumerate(csv.DictReader(fh), start=2)
            ]
    return parse_items([f"@{path}"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("plans", type=Path, help="a .yaml/.json or .csv file of plans")
    parser.add_argument(
        "--url", help="the HTTP server (default: $QSERVER_HTTP_SERVER_URI, the config, else find it here)"
    )
    parser.add_argument("--api-key-file", help="read the API key from this file")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for each plan")
    args = parser.parse_args(argv)

    items = read_plans(args.plans)
    # verified (GET /openapi.json) before anything is sent; settings not given here come from
    # the environment or tether's config file, as for `tether qserver`
    with tether.connect("qserver", url=args.url, api_key_file=args.api_key_file) as qs:
        qs.ensure_environment()
        for item in items:
            qs.validate(item)  # all of them, before the first is sent
        for item in items:
            result = qs.run(item, timeout=args.timeout)
            summary = {k: getattr(result, k) for k in ("name", "item_uid", "exit_status", "run_uids", "msg")}
            print(json.dumps(summary), flush=True)
            if not result.ok:
                return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except tether.TetherError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
