"""The desk's one way out to the internet: every URL it fetches, and every address it connects to, passes here.

It owns the rules (http and https only; no address inside this network, on this machine, link-local,
multicast or reserved, in any spelling; the same rules at every redirect; the allow-list and proxy
from settings) and the guarded client that applies them (one DNS lookup, the connection made to the
checked address, one deadline for the whole download, the size cap). Link intake calls `open_url`, the
time-stamping authority's adapter calls `post`; post capture with other tools must call `check_url` /
`check_address` before letting them connect.
"""

from verify.outbound.client import MAX_REDIRECTS, Download, open_url, post
from verify.outbound.rules import FetchFailed, OutboundError, Refused, Target, check_address, check_url

__all__ = [
    "MAX_REDIRECTS",
    "Download",
    "FetchFailed",
    "OutboundError",
    "Refused",
    "Target",
    "check_address",
    "check_url",
    "open_url",
    "post",
]
