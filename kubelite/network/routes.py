"""The local route for the service CIDR: `ip route add <service CIDR> dev <pod bridge>`.

Why a link route on the bridge (and not a blackhole, unreachable or local route):
- a host process connecting to a VIP needs a usable route *before* the nat OUTPUT hook DNATs the
  packet (connect() looks the route up first): blackhole/unreachable routes fail right there;
- it makes the kernel pick the bridge's address as the source, which is inside the pod CIDR, so
  pods answer the host directly and no masquerade is needed;
- a `local` route would make every VIP a local address: host daemons listening on 0.0.0.0 would
  answer on VIPs without endpoints, and `fib daddr type local` (NodePorts) would match VIPs;
- packets to a VIP that no rule DNATs (no endpoints, unknown port) are rejected or dropped by the
  proxy's filter chains; were they not, they would go no further than an unanswered ARP on the
  bridge. Either way a VIP never leaves through the host's real interfaces.

The route can only exist once the bridge does (the runtime creates it with the first pod), so
`ensure` is retried until it succeeds. `remove` deletes only a route this object added.

Must not touch any other route.
"""

from __future__ import annotations

import json
import logging

from kubelite.network.commands import CommandError, Runner, run_command

log = logging.getLogger(__name__)


class ServiceRoute:
    def __init__(self, cidr: str, device: str, runner: Runner = run_command):
        self.cidr = cidr
        self.device = device
        self.run = runner
        self.added = False  # this object added the route (and so removes it)

    async def current_devices(self) -> list[str]:
        """The devices of routes for exactly this CIDR in the main table."""
        out = await self.run(["ip", "-j", "route", "show", "exact", self.cidr], None)
        routes = json.loads(out) if out.strip() else []
        return [str(route.get("dev") or route.get("type") or "") for route in routes]

    async def ensure(self) -> bool:
        """Whether the route is in place (added now if missing and the device is up)."""
        devices = await self.current_devices()
        if self.device in devices:
            return True
        if devices:
            log.warning("service CIDR %s is already routed via %s: leaving that route alone", self.cidr, devices)
            return True
        try:
            await self.run(["ip", "route", "add", self.cidr, "dev", self.device], None)
        except CommandError as err:
            if "File exists" in err.stderr:
                return True
            log.debug("no route for %s via %s yet: %s", self.cidr, self.device, err.stderr.strip())
            return False
        self.added = True
        return True

    async def remove(self) -> None:
        if not self.added:
            return
        self.added = False
        try:
            await self.run(["ip", "route", "del", self.cidr, "dev", self.device], None)
        except CommandError as err:
            log.debug("route %s via %s already gone: %s", self.cidr, self.device, err.stderr.strip())
