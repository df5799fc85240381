"""The decision queue and the exports through the screens: filters, issuing singly and in bulk, the export page with
its progress bar and download, and who may do what."""
from __future__ import annotations

import re

from review.extensions import db
from review.models import Decision, ExportJob, JournalEntry
from tests.e2e.test_walkthrough import login
from tests.integration.test_decision_queue import APPROVE, PARTIAL, REJECT, make_decisions
from workflows.money import format_fen


def _queue(world) -> tuple[str, list[int]]:  # type: ignore[no-untyped-def]
    ids = make_decisions(world, [("hosp1", "ZY2026080001", APPROVE), ("hosp1", "ZY2026080002", PARTIAL),
                                 ("hosp2", "ZY2026080003", REJECT), ("hosp2", "ZY2026080004", APPROVE)])
    return f"/staff/cycles/{world.cycle_id}/decisions", ids


def _status(decision_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Decision, decision_id).status  # type: ignore[union-attr]


def test_office_filters_and_issues_singly_and_in_bulk(client, world) -> None:  # type: ignore[no-untyped-def]
    url, (first, second, third, fourth) = _queue(world)
    login(client, "staff")
    overview = client.get(f"/staff/?cycle={world.cycle_id}")
    assert url in overview.text  # linked from the cycle overview
    page = client.get(url)
    assert page.status_code == 200
    assert all(f"ZY202608000{n}" in page.text for n in range(1, 5))
    assert "Issue selected" in page.text and page.text.count('name="decision_ids"') == 4
    assert "+¥" in page.text and "supplement" in page.text and "no payment change" in page.text
    assert re.search(r'<span class="n">4</span><span class="muted small">All proposed', page.text)
    supplements = sum(d.amount_fen for d in db.session.scalars(db.select(Decision)) if d.amount_fen > 0)
    assert f"amount-supplement\">+¥ {format_fen(supplements)}</dd>" in page.text  # the money the whole queue would move

    rejected_only = client.get(url, query_string={"outcome": "rejected"})
    assert "ZY2026080003" in rejected_only.text and "ZY2026080001" not in rejected_only.text
    h2_only = client.get(url, query_string={"hospital": world.hospitals["H2"]})
    assert "ZY2026080004" in h2_only.text and "ZY2026080002" not in h2_only.text

    unread = client.post(f"{url}/issue", data={"decision_ids": [str(fourth)]}, follow_redirects=True)
    assert f"Decision #{fourth} was not issued: Decision #{fourth} cannot be issued before you have opened" in unread.text
    assert f'href="/staff/decisions/{third}"' in page.text and "Open reasons and issue" in page.text
    for decision_id in (third, first, second):
        reasons = client.get(f"/staff/decisions/{decision_id}")
        assert reasons.status_code == 200 and "Issue this decision" in reasons.text
        assert "Dr Expert" in reasons.text and "code-chip" in reasons.text  # the office reads who voted how
    single = client.post(f"{url}/issue", query_string={"hospital": world.hospitals["H2"]},
                         data={"only": str(third), "decision_ids": [str(first)]})
    assert single.status_code == 302
    assert single.headers["Location"].endswith(f"{url}?hospital={world.hospitals['H2']}")  # filters kept
    assert (_status(third), _status(first)) == ("issued", "proposed")  # only the row's button counts

    bulk = client.post(f"{url}/issue", data={"decision_ids": [str(first), str(second), str(third)]},
                       follow_redirects=True)
    assert "2 decision(s) issued" in bulk.text
    assert f"Decision #{third} was not issued: This decision has already been issued." in bulk.text
    assert [_status(d) for d in (first, second, third, fourth)] == ["issued", "issued", "issued", "proposed"]
    assert "ZY2026080001" not in bulk.text and "ZY2026080004" in bulk.text  # the queue shows what is left
    assert sorted(db.session.scalars(db.select(JournalEntry.decision_id))) == sorted([first, second])

    nothing = client.post(f"{url}/issue", data={}, follow_redirects=True)
    assert "Tick at least one decision to issue." in nothing.text


def test_export_page_progress_and_download(client, world) -> None:  # type: ignore[no-untyped-def]
    url, ids = _queue(world)
    login(client, "staff")
    empty = client.post(f"/staff/cycles/{world.cycle_id}/exports", data={"kind": "decisions_csv"},
                        follow_redirects=True)
    assert "nothing to export" in empty.text
    for decision_id in ids[:2]:
        client.get(f"/staff/decisions/{decision_id}")
    client.post(f"{url}/issue", data={"decision_ids": [str(d) for d in ids[:2]]})

    login(client, "auditor")  # reads everything, issues nothing, may export
    page = client.get(url)
    assert page.status_code == 200 and "Issue selected" not in page.text and 'name="decision_ids"' not in page.text
    assert client.post(f"{url}/issue", data={"decision_ids": [str(ids[2])]}).status_code == 403
    started = client.post(f"/staff/cycles/{world.cycle_id}/exports", data={"kind": "decisions_csv"})
    assert started.status_code == 302
    export_url = started.headers["Location"]
    job_id = int(re.search(r"/staff/exports/(\d+)$", export_url).group(1))  # type: ignore[union-attr]
    done = client.get(export_url)
    assert done.status_code == 200 and "2026Q3-decisions.csv" in done.text and "job-progress" not in done.text
    assert client.get(f"{export_url}/status").get_json() == {"status": "done", "progress": 100, "done": 2,
                                                             "total": 2, "finished": True}
    download = client.get(f"{export_url}/download")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "2026Q3-decisions.csv" in download.headers["Content-Disposition"]
    assert "sandbox" in download.headers["Content-Security-Policy"]
    assert download.data.startswith(b"\xef\xbb\xbf") and b"ZY2026080001" in download.data
    assert f"/staff/exports/{job_id}" in client.get(url).text  # listed under recent exports

    for user in ("hosp1", "expert1"):
        login(client, user)
        assert client.get(url).status_code == 403
        assert client.post(f"{url}/issue", data={"decision_ids": [str(ids[2])]}).status_code == 403
        assert client.post(f"/staff/cycles/{world.cycle_id}/exports",
                           data={"kind": "letters_zip"}).status_code == 403
        for suffix in ("", "/status", "/download"):
            assert client.get(f"{export_url}{suffix}").status_code == 403
    assert _status(ids[2]) == "proposed"


def test_a_running_export_shows_the_progress_bar(client, world) -> None:  # type: ignore[no-untyped-def]
    job = ExportJob(cycle_id=world.cycle_id, kind="letters_zip", status="running", progress=40, total=10, done=4)
    db.session.add(job)
    db.session.commit()
    login(client, "staff")
    page = client.get(f"/staff/exports/{job.id}")
    assert page.status_code == 200
    assert f'id="job-progress" data-status-url="/staff/exports/{job.id}/status"' in page.text
    assert '<progress value="40" max="100">' in page.text and "js/job-progress.js" in page.text
    assert "4 of 10 decisions" in page.text and "/download" not in page.text
    assert client.get(f"/staff/exports/{job.id}/status").get_json()["finished"] is False
    assert client.get(f"/staff/exports/{job.id}/download").status_code == 404
    assert client.get("/staff/exports/999999").status_code == 404
