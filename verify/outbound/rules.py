"""Which URLs and addresses the desk may fetch from, and why the others are refused."""

from __future__ import annotations

import ipaddress
import re
import socket
import urllib.parse
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_PORTS = {"http": 80, "https": 443}

_RFC1918_AND_ULA = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: a network's own translators
_TEREDO = ipaddress.ip_network("2001::/32")
# The old spellings C's inet_aton accepts and resolvers pass on: 2130706433, 0177.0.0.1, 0x7f.1, 127.1.
_LEGACY_IPV4 = re.compile(r"[0-9][0-9a-fA-FxX.]*")
_URL_SAFE = "/%:@!$&'()*+,;=-._~"


class OutboundError(Exception):
    """A fetch the desk did not complete; the message says why in the desk's words."""


class Refused(OutboundError):
    """The desk will not fetch this: a scheme, an address, a redirect or a size its rules forbid."""


class FetchFailed(OutboundError):
    """The fetch was allowed but did not succeed: unreachable, refused by the server, too slow, cut off."""


@dataclass(frozen=True)
class Target:
    """A URL that passed the rules, with the one address the connection must go to."""

    url: str
    scheme: str
    host: str  # lower case, without brackets; what TLS checks the certificate against
    port: int
    address: str  # the checked IP address to connect to
    path: str  # path and query, as sent in the request line

    @property
    def netloc(self) -> str:
        """host[:port] as people write it, for messages and the Host header."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def check_url(url: str) -> Target:
    """Parse `url`, resolve its host once and check every address; the Target says where to connect.

    Raises Refused with a sentence for the desk, or FetchFailed when the name does not resolve.
    """
    text = url.strip()
    parts = urllib.parse.urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.netloc:
        raise Refused(f"Only http:// and https:// links can be downloaded, not {text!r}")
    if parts.username is not None or parts.password is not None:
        raise Refused("The link carries a user name or password; the desk does not send credentials in links.")
    try:
        # A name in another script is looked up and sent in its ASCII (IDNA) form.
        host = (parts.hostname or "").rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        host = ""
    if not host or any(ch.isspace() for ch in host):
        raise Refused(f"The link {text!r} names no host the desk can look up.")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise Refused(f"The link {text!r} has a port that is not a number from 1 to 65535.") from None
    literal = ip_literal(host)
    addresses = [literal] if literal else _resolve(host, port)
    for address in addresses:
        check_address(address, host=host, port=port)
    # Spaces and other characters a request line cannot carry are percent-encoded; existing escapes stay.
    path = urllib.parse.quote(parts.path or "/", safe=_URL_SAFE)
    if parts.query:
        path += "?" + urllib.parse.quote(parts.query, safe=_URL_SAFE + "?")
    return Target(url=text, scheme=scheme, host=host, port=port, address=str(addresses[0]), path=path)


def check_address(address: str | IPAddress, *, host: str | None = None, port: int | None = None) -> None:
    """Raise Refused unless the desk may connect to `address` (the allow-list can permit one that is not public).

    `host` and `port` are what the URL said, for host-name entries of the allow-list and for the message.
    """
    ip = address if isinstance(address, IPAddress) else ipaddress.ip_address(str(address).split("%", 1)[0])
    if _allowed(ip, host, port):
        return
    problem = why_not_public(ip)
    if problem:
        raise Refused(f"That link points at {problem} ({_shown(ip, host)}), which the desk does not fetch.")


def _shown(ip: IPAddress, host: str | None) -> str:
    """The address as the message names it: as the link wrote it, and what it is when that differs."""
    text = f"::ffff:{ip.ipv4_mapped}" if ip.version == 6 and ip.ipv4_mapped else str(ip)
    try:
        same = host is not None and ipaddress.ip_address(host) == ip
    except ValueError:
        same = False
    return text if host is None or same or host == text else f"{host}, which is {text}"


def why_not_public(ip: IPAddress) -> str | None:
    """What kind of non-public address `ip` is, in words; None for an address on the public internet."""
    if ip.version == 6:
        inner = _embedded_ipv4(ip)
        if inner is not None:
            problem = why_not_public(inner)
            return f"{problem}, written as IPv6" if problem else None
        if ip in _LOCAL_NAT64:
            return "an address of this network's own IPv6-to-IPv4 translator"
        if ip in _TEREDO:
            return "a Teredo tunnel address"
        if ip.is_site_local:
            return "a site-local address inside this network"
    if ip.is_unspecified:
        return "the unspecified address, which reaches the desk's own machine"
    if ip.is_loopback:
        return "an address on the desk's own machine"
    if ip.is_link_local:
        return "a link-local address, where cloud metadata services answer"
    if ip.is_multicast:
        return "a multicast address"
    if ip in _SHARED:
        return "a shared address inside a provider's network"
    if any(ip in network for network in _RFC1918_AND_ULA if network.version == ip.version):
        return "an address inside this network"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "an address that is not on the public internet"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries: IPv4-mapped, NAT64 (64:ff9b::/96) or 6to4 (2002::/16)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def ip_literal(host: str) -> IPAddress | None:
    """The address a host written as an IP means, in any spelling a resolver accepts; None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the name resolves to, looked up once; each is checked, the first is used."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise FetchFailed(f"Could not find the host {host}: {reason}.") from None
    addresses = []
    for _family, _type, _proto, _name, sockaddr in answers:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise FetchFailed(f"Could not find the host {host}: the name has no address.")
    return addresses


def _allowed(ip: IPAddress, host: str | None, port: int | None) -> bool:
    """True if OUTBOUND_ALLOW names this host (and port), or the address's network (and port)."""
    for entry in settings.OUTBOUND_ALLOW:
        what, entry_port = _allow_entry(entry)
        if entry_port is not None and entry_port != port:
            continue
        if isinstance(what, ipaddress.IPv4Network | ipaddress.IPv6Network):
            if ip.version == what.version and ip in what:
                return True
        elif host is not None and what == host.lower().rstrip("."):
            return True
    return False


def _allow_entry(entry: str) -> tuple[str | ipaddress.IPv4Network | ipaddress.IPv6Network, int | None]:
    """One allow-list entry: a host name, an address or a CIDR network, each optionally with :port."""
    given = entry
    entry, port_text = entry.strip().lower(), None
    if entry.startswith("["):  # [::1] or [::1]:8000
        entry, _, rest = entry[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else None
    elif entry.count(":") == 1:  # host:port or 10.0.0.1:8000 (an IPv6 entry has several colons)
        entry, _, port_text = entry.partition(":")
    if port_text is not None and not port_text.isdigit():
        raise ImproperlyConfigured(f"OUTBOUND_ALLOW entry {given!r} has a port that is not a number")
    port = int(port_text) if port_text is not None else None
    try:
        return ipaddress.ip_network(entry, strict=False), port
    except ValueError:
        return entry.rstrip("."), port
