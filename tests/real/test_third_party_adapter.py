"""A third-party adapter (examples/third_party_adapter) goes through the same entry-point road."""

from __future__ import annotations

import json
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import tether
from tether import registry
from tether.cli import run

pytestmark = pytest.mark.real

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "third_party_adapter"


@pytest.fixture
def redis_plugin(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    registry._entry_points.cache_clear()
    real = registry._entry_points()
    ep = EntryPoint("redis", "tether_redis:RedisAdapter", registry.GROUP)
    monkeypatch.setattr(registry, "_entry_points", lambda: (*real, ep))
    registry.adapters.cache_clear()
    yield
    registry.adapters.cache_clear()
    sys.modules.pop("tether_redis", None)


def test_third_party_adapter_finds_the_real_redis(redis_plugin, qserver_app, capsys):
    eps = [e for e in tether.scan(["redis"]) if e.port == qserver_app.redis_port]
    assert eps and eps[0].confidence == "verified" and eps[0].pid == qserver_app.redis.pid

    assert run(["redis", "ping", "--port", str(qserver_app.redis_port), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reply"] == "+PONG"

    assert run(["doctor", "--json", "--timeout", "0.5"]) == 0
    rows = {a["adapter"]: a for a in json.loads(capsys.readouterr().out)["adapters"]}
    assert rows["redis"]["state"] == "ok"
