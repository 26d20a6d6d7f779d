"""How a search term and a stored value are put in one form: URLs, accounts and SHA-256 prefixes. No Django here."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SHA256_PREFIX = re.compile(r"[0-9a-f]{6,64}")
MIN_HASH_PREFIX = 6

# Parameters that say how a link travelled, not what it points to.
TRACKING_PARAMETERS = {"fbclid", "gclid", "dclid", "igsh", "igshid", "mc_cid", "mc_eid", "si", "ref_src", "ref_url"}
TRACKING_PREFIXES = ("utm_",)
DEFAULT_PORTS = {"http": "80", "https": "443"}


def is_tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMETERS or name.startswith(TRACKING_PREFIXES)


def looks_like_url(text: str) -> bool:
    """A term someone pasted from a browser's address bar: a scheme, or a host with a dot followed by a path."""
    text = text.strip()
    if re.match(r"^[a-z][a-z0-9+.-]*://", text, re.IGNORECASE):
        return True
    return bool(re.match(r"^(www\.)?[\w-]+(\.[\w-]+)+/\S*$", text)) and " " not in text


def normalise_url(url: str) -> str:
    """One spelling of a link: no scheme or `www.`, host in lower case, no default port, no trailing slash,
    no fragment and no tracking parameters; the path and the remaining parameters as given.

    "HTTPS://WWW.T.me/kursk_frontline/4411/?utm_source=share#c" and "t.me/kursk_frontline/4411" are one link.
    """
    url = url.strip()
    if not url:
        return ""
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = parts.port if _has_valid_port(parts) else None
    if port is not None and str(port) != DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking(k)])
    path = parts.path.rstrip("/")
    return urlunsplit(("", host, path, query, "")).removeprefix("//")


def _has_valid_port(parts) -> bool:
    try:
        return parts.port is not None
    except ValueError:
        return False


def url_key(url: str) -> str:
    """The SHA-256 of a link's normalised spelling: short enough for any database's index, empty for no link."""
    normalised = normalise_url(url)
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest() if normalised else ""


def normalise_account(account: str) -> str:
    """An account as people type it: '@Kursk_Frontline', 'kursk_frontline ' and 'KURSK_FRONTLINE' are one."""
    return account.strip().removeprefix("@").lower()


def hash_prefix(text: str) -> str | None:
    """`text` in lower case when it can be a SHA-256 or the start of one (6 to 64 hex digits), else None."""
    text = text.strip().lower()
    return text if SHA256_PREFIX.fullmatch(text) else None


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string above every hex string starting with `prefix`: 'g' sorts after every hex digit.

    `prefix <= sha256 < prefix + "g"` selects the same rows as `sha256 LIKE 'prefix%'`, but as a range
    it uses the ordinary unique index in any collation.
    """
    return prefix + "g"
