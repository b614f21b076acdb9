"""``tether audit`` for IGV: its batch port has no authentication, so who can reach it can drive it.

Anyone who connects can load any file the IGV user may read, write snapshots and sessions
wherever IGV may write, and quit IGV. IGV offers no bind-address setting: its
``CommandListener`` opens ``new ServerSocket(port)`` — every interface — in Debian's 2.16
(``org.broad.igv.batch.CommandListener``) and still in IGV's current source
(``org/igv/batch/CommandListener.java``, igvteam/igv aa47fe9, 2026-08). Java's
``-Djava.net.preferIPv4Stack=true`` only turns ``::`` into ``0.0.0.0``: still every interface.
What closes the port to other machines is a firewall rule, or turning the port off.
"""

from __future__ import annotations

from tether.adapter import Finding, is_loopback
from tether.endpoint import Endpoint, bind_scope, connect_host

from .probe import igv_directory

FIX = (
    "IGV has no bind-address setting (its CommandListener listens on every interface): block the port "
    "from other machines with a firewall rule, e.g. "
    "`iptables -I INPUT -p tcp --dport {port} ! -i lo -j DROP` and the same with ip6tables; "
    "or turn the port off when nothing drives IGV (View > Preferences > Advanced > "
    "Enable port, i.e. PORT_ENABLED=FALSE in {prefs})"
)


def _where(bind: str) -> str | None:
    scope = bind_scope(bind) if bind else None
    if scope == "public":
        return f"all interfaces ({bind})"
    if scope == "address" and not is_loopback(connect_host(bind)):
        return f"the address {bind}"
    return None


def audit(endpoint: Endpoint) -> list[Finding]:
    """IGV's batch port bound beyond loopback (from the socket table) → a warning."""
    if endpoint.app != "igv":
        return []
    where = _where(endpoint.bind)
    if where is not None:
        evidence = f"the socket table shows IGV's batch port {endpoint.port} bound to {where}"
    elif not endpoint.bind and not is_loopback(endpoint.host):
        evidence = f"IGV answered the probe at {endpoint.address} from this machine"
    else:
        return []
    if any(a.startswith("-Djava.net.preferIPv4Stack") for a in endpoint.cmdline):
        evidence += " (java.net.preferIPv4Stack is set: it picks IPv4, it does not restrict the bind)"
    prefs = igv_directory(endpoint.cmdline) / "prefs.properties" if endpoint.cmdline else "prefs.properties"
    return [
        Finding.about(
            endpoint,
            "warning",
            "IGV's batch port is reachable from other machines, without authentication: anyone who "
            "reaches it can load files from this disk into IGV, write snapshots and sessions, or quit IGV",
            evidence,
            FIX.format(port=endpoint.port, prefs=prefs),
        )
    ]
