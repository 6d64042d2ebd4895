"""Concurrency through the service layer: 20 threads save random overlapping estimate batches
while one edits projects and one imports Xero files, for 10 s in `make test` and 60 s in
`make reliability`. Afterwards:

- every accepted batch is fully applied and every refused one fully absent (each batch writes a
  description tag of its own; the audit log and the table are searched for it);
- the final table equals the accepted batches applied in commit order: on every row the accepted
  batches' loaded versions form an unbroken chain, and the row holds the last one's values;
- audit rows = changed rows; pnl_monthly and project_metrics equal a recount from the lines;
- a deadlock is retried (db.retried) or refused with the Contended message, never a raw error.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from milestone import seed
from milestone.errors import Conflict, Contended, StaleEdit
from milestone.services import estimates, imports, projects, users
from milestone.validation import EstimateChanges, EstimateRow
from tests import builders, oracle
from tests.xero_files import line, render

THREADS = 20


def campaign(tdb, seconds: float, artifacts) -> dict:
    seed.ensure_demo_users(tdb.owner)
    finance, admin = users.get_user("finance"), users.get_user("admin")
    pids = [
        builders.project(tdb, f"Busy {i}", client=f"Busy client {i}", xero_tracking_id=f"TRK-BUSY-{i}")
        for i in range(4)
    ]
    phase = builders.phase(tdb, "Busy phase")
    for i in range(120):
        builders.estimate(tdb, pids[i % 4], f"{10 + i}.00", kind="revenue" if i % 2 else "cost")
    pool = [r["id"] for r in tdb.rows("SELECT id::text AS id FROM milestone.estimates")]
    audit_start = tdb.scalar("SELECT count(*) FROM milestone.audit_log WHERE table_name = 'estimates'")
    deadline = time.monotonic() + seconds
    accepted: list[dict] = []
    refused: list[dict] = []
    unexpected: list[str] = []
    lock = threading.Lock()
    counts: dict[str, int] = defaultdict(int)

    def saver(tid: int) -> None:
        rng = random.Random(tid)
        n = 0
        while time.monotonic() < deadline:
            n += 1
            tag = f"t{tid}-b{n}"
            picked = rng.sample(pool, rng.randint(1, 8))
            current = {
                r["id"]: r
                for r in tdb.rows(
                    "SELECT id::text AS id, version, project_id::text AS p FROM milestone.estimates"
                    " WHERE id = ANY(CAST(:ids AS uuid[]))",
                    ids=picked,
                )
            }
            changes = EstimateChanges()
            for i, est in enumerate(picked):
                row = EstimateRow(
                    project_id=rng.choice(pids),
                    kind=rng.choice(["revenue", "cost"]),
                    build_phase_id=rng.choice([None, phase]),
                    description=f"{tag}-{i}",
                    amount=Decimal(rng.randint(1, 10**7)) / 100,
                    date=date(2026, rng.randint(1, 12), rng.randint(1, 28)),
                )
                changes.updates.append((est, current[est]["version"], row))
            if rng.random() < 0.3:
                changes.inserts.append(
                    (
                        None,
                        EstimateRow(
                            project_id=rng.choice(pids),
                            kind="cost",
                            description=f"{tag}-new",
                            amount=Decimal("1.23"),
                            date=date(2026, 6, 1),
                        ),
                    )
                )
            batch = {"tag": tag, "changes": changes}
            try:
                estimates.save_estimate_changes(changes, finance)
            except (Conflict, Contended) as exc:
                batch["why"] = type(exc).__name__
                with lock:
                    refused.append(batch)
                    counts[type(exc).__name__] += 1
                continue
            except Exception as exc:  # noqa: BLE001 - the test reports anything else as a failure
                with lock:
                    unexpected.append(f"{tag}: {exc!r}")
                continue
            with lock:
                accepted.append(batch)

    def editor() -> None:
        rng = random.Random(99)
        while time.monotonic() < deadline:
            p = rng.choice(pids)
            version = tdb.scalar("SELECT version FROM milestone.projects WHERE id = :p", p=p)
            try:
                projects.update_project(admin, p, version, {"budget_revenue": Decimal(rng.randint(0, 10**6))})
                counts["project_edits"] += 1
            except (StaleEdit, Contended):
                counts["project_edits_refused"] += 1
            except Exception as exc:  # noqa: BLE001
                unexpected.append(f"project edit: {exc!r}")

    def importer() -> None:
        k = 0
        while time.monotonic() < deadline:
            k += 1
            data = render([line(f"BUSY-{k}-{i}", f"TRK-BUSY-{i % 4}") for i in range(20)])
            try:
                imports.import_file(data, f"busy-{k}.csv", finance, dry_run=False)
                counts["imports"] += 1
            except Contended:
                counts["imports_refused"] += 1
            except Exception as exc:  # noqa: BLE001
                unexpected.append(f"import: {exc!r}")

    threads = [threading.Thread(target=saver, args=(t,)) for t in range(THREADS)]
    threads += [threading.Thread(target=editor), threading.Thread(target=importer)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 120)
    elapsed = time.monotonic() - t0
    assert unexpected == []

    # every accepted batch fully applied, every refused one fully absent (audit log and table)
    audited = defaultdict(int)
    for r in tdb.rows(
        "SELECT split_part(new_data->>'description', '-', 1) || '-' || split_part(new_data->>'description', '-', 2)"
        " AS tag, count(*) AS n FROM milestone.audit_log WHERE table_name = 'estimates' AND new_data IS NOT NULL"
        " GROUP BY 1"
    ):
        audited[r["tag"]] = r["n"]
    for b in accepted:
        assert audited[b["tag"]] == b["changes"].count, b["tag"]
    for b in refused:
        assert audited.get(b["tag"], 0) == 0, b["tag"]
    # on every row the accepted batches' loaded versions form an unbroken chain; the row holds the last
    chains: dict[str, list[tuple[int, EstimateRow]]] = defaultdict(list)
    for b in accepted:
        for est, version, row in b["changes"].updates:
            chains[est].append((version, row))
    final = {
        r["id"]: r
        for r in tdb.rows(
            "SELECT id::text AS id, version, description, amount, kind, date, project_id::text AS project_id,"
            " build_phase_id::text AS build_phase_id FROM milestone.estimates"
        )
    }
    for est, chain in chains.items():
        chain.sort(key=lambda x: x[0])
        versions = [v for v, _ in chain]
        assert versions == list(range(versions[0], versions[0] + len(versions))), (est, versions)
        last = chain[-1][1]
        got = final[est]
        assert got["version"] == versions[-1] + 1
        assert (got["description"], got["amount"], got["kind"], got["date"], got["project_id"]) == (
            last.description,
            last.amount,
            last.kind,
            last.date,
            last.project_id,
        )
        assert got["build_phase_id"] == last.build_phase_id
    # audit rows = changed rows (every update here changes the description, every insert is new)
    audit_rows = tdb.scalar("SELECT count(*) FROM milestone.audit_log WHERE table_name = 'estimates'") - audit_start
    assert audit_rows == sum(b["changes"].count for b in accepted)
    # the rollups equal a recount
    assert oracle.stored_pnl(tdb) == oracle.pnl_rows(tdb)
    assert oracle.metrics_table(tdb) == oracle.project_sums(tdb)
    figures = {
        "seconds": round(elapsed, 1),
        "threads": THREADS + 2,
        "saves_tried": len(accepted) + len(refused),
        "saves_accepted": len(accepted),
        "refused_conflict": counts["Conflict"],
        "refused_contended": counts["Contended"],
        "audit_rows": audit_rows,
        "changed_rows": sum(b["changes"].count for b in accepted),
        "project_edits": counts["project_edits"],
        "project_edits_refused": counts["project_edits_refused"],
        "imports": counts["imports"],
        "imports_refused": counts["imports_refused"],
        "load": os.getloadavg(),
    }
    (artifacts / f"concurrency-{int(seconds)}s.json").write_text(json.dumps(figures, indent=1))
    print(figures)
    assert len(accepted) >= 5, figures  # the run did something (a loaded machine saves fewer)
    return figures


def test_twenty_threads_for_ten_seconds(fresh_database, artifacts):
    campaign(fresh_database, float(os.environ.get("MILESTONE_CONCURRENCY_SECONDS", "10")), artifacts)


@pytest.mark.reliability
def test_twenty_threads_for_sixty_seconds(fresh_database, artifacts):
    campaign(fresh_database, 60.0, artifacts)
