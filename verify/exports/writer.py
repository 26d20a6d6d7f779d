"""Writes a set of cases as CSV or JSON to a binary file, a chunk of cases at a time, saying how far it got."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import BinaryIO

from verify.exports.csv_rows import csv_rows
from verify.exports.json_rows import case_reports
from verify.reports.csv import BOM, HEADER
from verify.reports.data import REPORT_SCHEMA_VERSION
from verify.reports.json import SCHEMA_NAME, _dumps

# Cases read per round of queries. Each chunk's rows are plain dicts and tuples, dropped before the next;
# bench/csv_export.py measures the peak memory this gives at 100,000 cases.
CHUNK_SIZE = 500

Progress = Callable[[int], None]


def chunks(case_ids: Sequence[int], size: int | None = None) -> Iterator[Sequence[int]]:
    size = size or CHUNK_SIZE
    for start in range(0, len(case_ids), size):
        yield case_ids[start : start + size]


def write_csv(case_ids: Sequence[int], out: BinaryIO, progress: Progress) -> int:
    """The CSV export of `case_ids` (as reports/csv.py writes it) into `out`; returns the rows written."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    # Excel reads a CSV as UTF-8 only when it starts with a byte order mark.
    text.write(BOM)
    writer = csv.writer(text)
    writer.writerow(HEADER)
    done = 0
    for chunk in chunks(case_ids):
        for row in csv_rows(chunk):
            writer.writerow(row)
            done += 1
        progress(done)
    text.flush()
    text.detach()
    return done


def write_json(case_ids: Sequence[int], out: BinaryIO, progress: Progress, generated_at: datetime) -> int:
    """The JSON export document of `case_ids` (docs/report-schema.md) into `out`, one case per line."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="\n", write_through=False)
    head = {"schema": SCHEMA_NAME, "version": REPORT_SCHEMA_VERSION, "generated_at": generated_at.isoformat()}
    # The head is a complete object; reopen it to append the "cases" array, as reports/json.py does.
    text.write(_dumps(head)[:-1] + ', "cases": [')
    separator = "\n"
    done = 0
    for chunk in chunks(case_ids):
        for report in case_reports(chunk):
            text.write(separator + _dumps(report))
            separator = ",\n"
            done += 1
        progress(done)
    text.write("\n]}\n")
    text.flush()
    text.detach()
    return done
