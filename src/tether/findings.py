"""What ``tether audit`` reports: a :class:`Finding` (who else could drive an app, and how to stop
them) and the three severities, weakest first.

A rule-1 module (it imports nothing from tether), so that adapters can build findings in their
``audit()`` hook and the core can collect them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: the severities, weakest first: ``info`` (worth knowing), ``warning`` (someone else can drive
#: the app or read from it), ``critical`` (anyone who reaches the port controls the app, or the machine)
SEVERITIES = ("info", "warning", "critical")
INFO, WARNING, CRITICAL = SEVERITIES


def severity_rank(severity: str) -> int:
    """0 for ``info`` … 2 for ``critical``; raises ``ValueError`` for anything else."""
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        raise ValueError(f"unknown severity {severity!r} (one of {', '.join(SEVERITIES)})") from None


@dataclass(frozen=True)
class Finding:
    """One thing the audit found about an app on a port.

    ``evidence`` says what it was read from (the socket table, the process's command line or
    environment, the app's files, a read-only request); ``fix`` names the setting, flag or
    firewall rule that removes it. Never a secret's value: evidence names a key, never shows it.
    """

    app: str | None
    host: str
    port: int | None
    pid: int | None
    severity: str
    finding: str
    evidence: str
    fix: str

    def __post_init__(self) -> None:
        severity_rank(self.severity)  # a typo in an adapter fails loudly, not as a silent "info"

    @classmethod
    def about(cls, endpoint: Any, severity: str, finding: str, evidence: str, fix: str, **kw: Any) -> Finding:
        """A finding about ``endpoint`` (anything with ``app``, ``host``, ``port``, ``pid``)."""
        base = {"app": endpoint.app, "host": endpoint.host, "port": endpoint.port, "pid": endpoint.pid}
        return cls(**{**base, **kw}, severity=severity, finding=finding, evidence=evidence, fix=fix)

    @property
    def rank(self) -> int:
        return severity_rank(self.severity)

    def at_least(self, severity: str) -> bool:
        """Whether this finding is as severe as ``severity`` or more."""
        return self.rank >= severity_rank(severity)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape scripts rely on (``tether audit --json``): exactly these keys."""
        return {
            "app": self.app,
            "host": self.host,
            "port": self.port,
            "pid": self.pid,
            "severity": self.severity,
            "finding": self.finding,
            "evidence": self.evidence,
            "fix": self.fix,
        }


__all__ = ["CRITICAL", "INFO", "SEVERITIES", "WARNING", "Finding", "severity_rank"]
