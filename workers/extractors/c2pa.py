"""The c2pa extractor: a file's Content Credentials (C2PA manifest store), as c2pa-python reads and validates them.

No manifest is a normal reading (`present` False, with a `note`), not a failure.
`validation_state` is exactly what c2pa-python reports ("Invalid", "Valid",
"Trusted"); without a configured trust list it never says "Trusted", and the
signing certificate shows up as "signingCredential.untrusted" among the
`validation_errors`. Reading never touches the network: a manifest stored at a
remote URL is reported with that URL but not fetched, so opening a tip's file
does not tell its publisher that someone is looking at it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import c2pa

from workers.extractors.base import ExtractionFailed, Unsupported

NAME = "c2pa"
VERSION = "1"
KINDS = frozenset({"photo", "video"})

READER_SETTINGS = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
NO_MANIFEST = "No Content Credentials (C2PA manifest) in the file."


def extract(path: Path, artifacts_dir: Path) -> dict:
    """Read the manifest store and summarise its active manifest."""
    try:
        store = _read_manifest_store(path)
    except c2pa.C2paError.ManifestNotFound:
        return _absent(NO_MANIFEST)
    except c2pa.C2paError.RemoteManifest as error:
        url = _url_in(_reason(error))
        return _absent(
            f"The file's Content Credentials are stored remotely at {url} and were not fetched.",
            remote_manifest=url,
        )
    except c2pa.C2paError.NotSupported as error:
        raise Unsupported(f"c2pa cannot read Content Credentials from this type of file ({_reason(error)}).") from error
    except c2pa.C2paError.Io as error:
        raise ExtractionFailed(f"c2pa could not read the file to the end ({_reason(error)}).") from error
    except c2pa.C2paError as error:
        raise ExtractionFailed(f"c2pa could not read the file's Content Credentials: {_reason(error)}.") from error
    return _summarise(store)


def _read_manifest_store(path: Path) -> dict:
    # The type comes from the bytes, not the name: stored media may have no extension.
    with (
        open(path, "rb") as stream,
        c2pa.Context.from_dict(READER_SETTINGS) as context,
        c2pa.Reader(stream, context=context) as reader,
    ):
        return json.loads(reader.json())


def _summarise(store: dict) -> dict:
    label = store.get("active_manifest")
    manifest = store.get("manifests", {}).get(label) if label else None
    result = _absent(None)
    result.update(
        present=True,
        validation_state=store.get("validation_state"),
        validation_errors=[
            {"code": status.get("code"), "explanation": status.get("explanation"), "url": status.get("url")}
            for status in store.get("validation_status", [])
        ],
        active_manifest=label,
        manifest_count=len(store.get("manifests", {})),
    )
    if manifest is None:
        result["note"] = "The manifest store names no active manifest, so there is no signer or history to show."
        return result
    signature = manifest.get("signature_info") or {}
    result.update(
        signer=signature.get("issuer") or signature.get("common_name"),
        signer_common_name=signature.get("common_name"),
        signed_at=signature.get("time"),
        claim_generator=manifest.get("claim_generator") or _generator_from_info(manifest),
        title=manifest.get("title"),
        format=manifest.get("format"),
        actions=_actions(manifest),
        ingredients=[_ingredient(ingredient) for ingredient in manifest.get("ingredients", [])],
    )
    return result


def _absent(note: str | None, *, remote_manifest: str | None = None) -> dict:
    """The result's full shape, as for a file without a manifest."""
    return {
        "present": False,
        "validation_state": None,
        "validation_errors": [],
        "active_manifest": None,
        "manifest_count": 0,
        "signer": None,
        "signer_common_name": None,
        "signed_at": None,
        "claim_generator": None,
        "title": None,
        "format": None,
        "actions": [],
        "ingredients": [],
        "remote_manifest": remote_manifest,
        "note": note,
    }


def _actions(manifest: dict) -> list[dict]:
    """Every action of the c2pa.actions (and c2pa.actions.v2) assertions, in order."""
    actions = []
    for assertion in manifest.get("assertions", []):
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions", []):
            actions.append(
                {
                    "action": action.get("action"),
                    "when": action.get("when"),
                    "software_agent": _software_agent(action.get("softwareAgent")),
                    "description": action.get("description"),
                    "digital_source_type": action.get("digitalSourceType"),
                }
            )
    return actions


def _ingredient(ingredient: dict) -> dict:
    return {
        "title": ingredient.get("title"),
        "format": ingredient.get("format"),
        "relationship": ingredient.get("relationship"),
        "document_id": ingredient.get("document_id"),
        "instance_id": ingredient.get("instance_id"),
        "has_manifest": bool(ingredient.get("active_manifest") or ingredient.get("manifest_data")),
    }


def _software_agent(agent: object) -> str | None:
    """Claims v1 give a string; v2 a {"name", "version"} object."""
    if isinstance(agent, dict):
        return " ".join(str(agent[key]) for key in ("name", "version") if agent.get(key)) or None
    return str(agent) if agent else None


def _generator_from_info(manifest: dict) -> str | None:
    """Claims v2 have claim_generator_info instead of the claim_generator string."""
    parts = [_software_agent(info) for info in manifest.get("claim_generator_info", [])]
    return " ".join(part for part in parts if part) or None


def _url_in(message: str) -> str:
    """The URL in c2pa's "remote manifest url: https://..." message, or the message if it holds none."""
    match = re.search(r"https?://\S+", message)
    return match.group(0) if match else message


def _reason(error: c2pa.C2paError) -> str:
    """c2pa's message without its error-kind prefix ("Other: ", "Io: "...)."""
    message = str(error).strip()
    kind, separator, rest = message.partition(": ")
    if separator and kind.isidentifier():
        message = rest
    return message.rstrip(".") or type(error).__name__.lstrip("_")
