"""How ``facesight serve`` runs: the library, the address and the security settings.

The defaults are the issue's: sessions end after 30 minutes idle and 12 hours in all; an
upload (search by face) is at most 20 MB and 40 megapixels, enough for any camera photo and far
below what a decompression bomb needs.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from facesight.defaults import DEFAULT_MAX_PIXELS
from facesight.errors import InvalidInputError

__all__ = ["ServeSettings", "is_loopback"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeSettings:
    """Everything the app needs to start.

    Args:
        library: the library directory (or PostgreSQL URL) to serve.
        host: the address to bind; anything but loopback needs ``secure_cookies`` (the app sits
            behind a TLS proxy) or ``insecure`` (the operator accepts cookies in clear).
        secure_cookies: mark cookies ``Secure`` (served over HTTPS by a reverse proxy).
        idle_timeout_s / absolute_timeout_s: when a web session ends.
        max_upload_bytes / max_upload_pixels: limits of a search-by-face upload.
    """

    library: str | Path
    host: str = "127.0.0.1"
    port: int = 8765
    secure_cookies: bool = False
    insecure: bool = False
    idle_timeout_s: float = 30 * 60
    absolute_timeout_s: float = 12 * 3600
    max_upload_bytes: int = 20 * 1024 * 1024
    max_upload_pixels: int = min(DEFAULT_MAX_PIXELS, 40_000_000)
    library_options: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not is_loopback(self.host) and not (self.secure_cookies or self.insecure):
            raise InvalidInputError(
                f"serving on {self.host} (not loopback) sends session cookies over the network: "
                "run it behind a TLS reverse proxy with --secure-cookies, or accept the risk "
                "with --insecure"
            )
        if self.idle_timeout_s <= 0 or self.absolute_timeout_s <= 0:
            raise InvalidInputError("session timeouts must be positive")

    @property
    def cookie_name(self) -> str:
        """``__Host-`` cookies are refused by browsers unless Secure: use the prefix only then."""
        return "__Host-facesight" if self.secure_cookies else "facesight_session"
