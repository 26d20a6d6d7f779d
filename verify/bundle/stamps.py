"""The one seam to the desk's RFC 3161 timestamp tokens (`verify.record.timestamps`), which may be absent.

That module gives `tokens_for_case(case) -> list[dict]` (label, digest, token as DER bytes, tsa_url,
gen_time, subject "original" or "chain_head") and `verify_token(token, digest_hex, *, certificate_pem=None)
-> (ok, message)`. A desk without it exports bundles that say it does not stamp.
"""

from __future__ import annotations

import importlib
from types import ModuleType

NOT_STAMPING = "no timestamp tokens: this desk does not stamp"


def timestamps_module() -> ModuleType | None:
    """`verify.record.timestamps`, or None where the desk has no time-stamping."""
    try:
        return importlib.import_module("verify.record.timestamps")
    except ModuleNotFoundError as exc:
        # Only the module's own absence means "does not stamp"; a library it needs being missing is an error.
        if exc.name != "verify.record.timestamps":
            raise
        return None
