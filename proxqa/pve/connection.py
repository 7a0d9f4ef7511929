"""Where the Proxmox API is and who talks to it."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    verify: bool | str          # True, False, or the path of a CA bundle
    connect_timeout: float
    request_timeout: float

    @property
    def api_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}/api2/json"

    @property
    def timeouts(self) -> tuple[float, float]:
        return self.connect_timeout, self.request_timeout


@dataclass(frozen=True)
class Identity:
    """A Proxmox login: a password user (user@realm) or an API token (user@realm!name)."""
    name: str                   # what the suite calls it: "suite", "capmox", "csi", "ccm"
    userid: str                 # user@realm or user@realm!tokenname
    secret: str = field(repr=False)

    @property
    def is_token(self) -> bool:
        return "!" in self.userid

    @property
    def user(self) -> str:
        return self.userid.split("!")[0]

    @property
    def token_name(self) -> str:
        return self.userid.partition("!")[2]

    def auth_header(self) -> dict[str, str]:
        return {"Authorization": f"PVEAPIToken={self.userid}={self.secret}"}
