"""What a request brings to the registry besides the object: who asks, and how to treat the write.

Must not carry HTTP types; the apiserver fills it from query parameters and authentication.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""


@dataclass(slots=True)
class RequestContext:
    user: UserInfo = field(default_factory=lambda: UserInfo("system:admin", ("system:masters", "system:authenticated")))
    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Warn"  # Strict | Warn | Ignore (upstream's default for non-kubectl clients: Warn)
    warnings: list[str] = field(default_factory=list)
    user_agent: str = ""

    def manager(self) -> str:
        """The field manager for managedFields: as given, else derived from the user agent as upstream."""
        if self.field_manager:
            return self.field_manager
        agent = self.user_agent.split("/", 1)[0] if self.user_agent else ""
        return agent or "unknown"
