"""The queue server adapter's Python API against the real bluesky-queueserver + httpserver + redis.

The session shares one server; each test opens the environment itself (``ensure_env``) and
checks its own items by uid, so the tests do not depend on each other's order.
"""

from __future__ import annotations

import threading

import pytest

from tether.errors import AuthError, CommandError, UsageError
from tether_qserver.client import QueueServer
from tether_qserver.stream import StatusFeed, follow_console

pytestmark = pytest.mark.real

COUNT = {"name": "count", "args": [["det1", "det2"]], "kwargs": {"num": 3}}
FAILS_AT_RUN_TIME = {"name": "mv", "args": ["motor", "abc"]}  # passes validation, fails in the RunEngine


def client(app, **kw) -> QueueServer:
    return QueueServer(app.url, api_key=kw.pop("api_key", app.api_key), **kw)


def ensure_env(app) -> None:
    """Open the environment unless it is open, through tether (a restarted manager closes it)."""
    with client(app) as qs:
        qs.ensure_environment(timeout=60)
        if qs.status(reload=True)["manager_state"] != "idle":
            qs.wait_for(lambda s: s["manager_state"] == "idle", 60)


def queue_uid(app) -> str:
    return app.request("GET", "/queue/get")["plan_queue_uid"]


def history_item(app, uid: str) -> dict | None:
    return next((i for i in app.request("GET", "/history/get")["items"] if i["item_uid"] == uid), None)


def remove_quietly(app, uid: str | None) -> None:
    if uid:
        try:
            app.request("POST", "/queue/item/remove", {"uid": uid})
        except Exception:
            pass


@pytest.fixture
def qs(qserver_app):
    ensure_env(qserver_app)
    with client(qserver_app) as c:
        yield c


def test_count_runs_to_completion_and_is_found_in_history(qs, qserver_app):
    result = qs.run(COUNT, timeout=60)
    assert result.exit_status == "completed" and result.ok
    assert result.run_uids and result.scan_ids
    recorded = history_item(qserver_app, result.item_uid)
    assert recorded["result"]["exit_status"] == "completed"
    assert recorded["result"]["run_uids"] == result.run_uids
    assert recorded["meta"]["client_request_id"] == result.client_request_id


def test_run_over_polling_sees_completion_too(qs):
    result = qs.run(COUNT, timeout=60, transport="poll")
    assert result.exit_status == "completed"


def queued_uids(app) -> list[str]:
    return [i["item_uid"] for i in app.request("GET", "/queue/get")["items"]]


def test_plan_failing_at_run_time_reports_failed_and_leaves_the_queue_as_it_was(qs, qserver_app):
    before = queued_uids(qserver_app)
    result = qs.run(FAILS_AT_RUN_TIME, timeout=60)
    assert result.exit_status == "failed" and not result.ok
    assert "Plan failed" in result.msg
    assert result.traceback
    assert result.requeued_uid is None  # executed, not queued: the server puts nothing back
    assert queued_uids(qserver_app) == before
    assert history_item(qserver_app, result.item_uid)["result"]["exit_status"] == "failed"


def test_plan_failing_through_the_queue_leaves_the_queue_as_the_server_left_it(qs, qserver_app):
    result = qs.run(FAILS_AT_RUN_TIME, queue=True, timeout=60)
    try:
        assert result.exit_status == "failed" and not result.ok
        assert "Plan failed" in result.msg
        assert result.traceback
        # the server pushed it back to the front under a new uid, and stopped the queue
        queued = app_queue = qserver_app.request("GET", "/queue/get")["items"]
        assert app_queue and queued[0]["item_uid"] == result.requeued_uid != result.item_uid
        assert history_item(qserver_app, result.item_uid)["result"]["exit_status"] == "failed"
    finally:
        remove_quietly(qserver_app, result.requeued_uid)


def test_run_executes_only_its_plan_and_the_queued_items_stay(qs, qserver_app):
    queued = [qs.submit(COUNT)["item_uid"], qs.submit(COUNT)["item_uid"]]
    try:
        before = queued_uids(qserver_app)
        result = qs.run(COUNT, timeout=60)
        assert result.exit_status == "completed" and result.item_uid not in queued
        assert queued_uids(qserver_app) == before
        assert all(history_item(qserver_app, uid) is None for uid in queued)
        assert qs.status(reload=True)["manager_state"] == "idle"
    finally:
        for uid in queued:
            remove_quietly(qserver_app, uid)


def test_run_through_the_queue_reports_every_item_that_ran(qs, qserver_app):
    ahead = qs.submit({"name": "count", "args": [["det2"]]})["item_uid"]
    ran = qs.run_queue(COUNT, timeout=60)
    assert ran[0].item_uid == ahead and len(ran) == 2
    assert all(r.exit_status == "completed" for r in ran) and ran[-1].name == "count"
    assert ahead not in queued_uids(qserver_app) and ran[-1].item_uid not in queued_uids(qserver_app)


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ({"name": "cuont", "args": [["det1"]]}, ["unknown plan", "count"]),
        ({"name": "count", "args": [["det1"]], "kwargs": {"nmu": 3}}, ["no parameter", "num"]),
        ({"name": "count", "args": [["det1", "det9"]]}, ["unknown device", "det9"]),
        ({"name": "count", "kwargs": {"num": 2}}, ["needs detectors"]),
        ({"name": "count", "args": [["det1"], 1, 0.0, 7]}, ["at most 3 positional"]),
    ],
)
def test_invalid_plans_are_refused_before_sending_and_the_queue_is_unchanged(qs, qserver_app, item, words):
    before = queue_uid(qserver_app)
    with pytest.raises(UsageError) as err:
        qs.submit(item)
    for word in words:
        assert word in str(err.value)
    assert queue_uid(qserver_app) == before


def test_wrong_api_key_is_an_auth_error_that_never_shows_the_key(qserver_app):
    with client(qserver_app, api_key="wrongkey12345") as bad, pytest.raises(AuthError) as err:
        bad.status()
    assert "wrongkey12345" not in str(err.value) and "wrongkey12345" not in repr(err.value.to_dict())
    assert "Invalid API key" in str(err.value)


def test_server_refusal_is_a_command_error_with_the_servers_message(qs):
    with pytest.raises(CommandError) as err:
        qs.item_remove(uid="no-such-uid")
    assert err.value.app_message and "no-such-uid" in err.value.app_message


def test_queue_editing_add_positions_move_remove_and_batch(qs, qserver_app):
    a = qs.submit(COUNT)["item_uid"]
    uids = [a]
    try:
        b = qs.submit(COUNT, pos="front")["item_uid"]
        c = qs.submit(COUNT, after_uid=b)["item_uid"]
        uids += [b, c]
        order = [i["item_uid"] for i in qs.queue_get()["items"]]
        assert order.index(b) < order.index(c) < order.index(a)
        qs.item_move(uid=a, pos_dest="front")
        assert qs.queue_get()["items"][0]["item_uid"] == a
        batch = qs.item_add_batch([COUNT, {"name": "count", "args": [["det2"]]}])
        uids += [i["item_uid"] for i in batch]
        assert [i["item_uid"] for i in qs.queue_get()["items"]][-2:] == [i["item_uid"] for i in batch]
        removed = qs.item_remove(uid=c)
        uids.remove(c)
        assert removed["item_uid"] == c and c not in [i["item_uid"] for i in qs.queue_get()["items"]]
    finally:
        for uid in uids:
            remove_quietly(qserver_app, uid)


def test_lock_and_unlock_round_trip(qs):
    qs.lock("tetherlockkey", queue=True, note="tether test")
    try:
        info = qs.lock_info()
        assert info["queue"] is True and info["note"] == "tether test"
        with pytest.raises(CommandError):
            qs.queue_clear()  # locked queue, no key sent
    finally:
        qs.unlock("tetherlockkey")
    assert qs.lock_info()["queue"] is False


def test_pause_then_abort_ends_the_plan_aborted(qs, qserver_app):
    long_count = {"name": "count", "args": [["det1"]], "kwargs": {"num": 200, "delay": 0.05}}
    uid = qs.submit(long_count)["item_uid"]
    requeued = None
    try:
        qs.queue_start()
        qs.wait_for(lambda s: s["running_item_uid"] == uid and s["re_state"] == "running", 30)
        qs.re_pause("immediate")
        qs.wait_for(lambda s: s["manager_state"] == "paused", 30)
        qs.re_abort()
        result = qs.wait_for_item(uid, timeout=30)
        assert result.exit_status == "aborted"
        requeued = qs.queue_get()["items"][0]["item_uid"]
    finally:
        remove_quietly(qserver_app, requeued)


def test_status_feed_reads_the_status_websocket(qs):
    with StatusFeed(qs, "ws") as feed:
        st = feed.next(5)
        assert feed.mode == "ws" and feed._heard
    assert st["msg"].startswith("RE Manager") and "plan_queue_uid" in st


@pytest.mark.parametrize("transport", ["ws", "poll"])
def test_console_follow_shows_the_plans_output(qs, qserver_app, transport):
    seen: list[str] = []
    started = threading.Event()

    def follow():
        with client(qserver_app) as watcher:
            gen = follow_console(watcher, transport=transport, duration=12)
            started.set()
            for msg in gen:
                seen.append(msg)
                if "Run was closed" in "".join(seen):
                    return

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    assert started.wait(10)  # follow_console returns once its socket is open (or its poll has begun)
    result = qs.run(COUNT, timeout=60)
    thread.join(15)
    text = "".join(seen)
    assert result.run_uids[0] in text  # "Run was closed: '<uid>'"
    assert "count" in text


def test_tether_connect_verifies_the_server_and_returns_a_queue_server(qserver_app):
    import tether

    with tether.connect("qserver", port=qserver_app.port, api_key=qserver_app.api_key) as qs:
        assert isinstance(qs, QueueServer)
        assert qs.base_url == qserver_app.url
        assert qs.status()["msg"].startswith("RE Manager")
        assert "count" in qs.plans_allowed(reduced=True)
