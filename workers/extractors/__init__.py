"""The registry of metadata extractors; each is one module of this package (see base.py).

Modules are imported on first use, so importing one extractor never loads the others. A module
with an `available()` function (one that needs a program the host may lack) is listed only where
that function says it can run.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from types import ModuleType

EXTRACTOR_MODULES = ("exif", "image", "video", "c2pa", "perceptual", "forensics", "exiftool", "video_timeline")


@cache
def registry() -> dict[str, ModuleType]:
    """Every extractor by name, in a stable order."""
    modules = [import_module(f"workers.extractors.{name}") for name in EXTRACTOR_MODULES]
    return {module.NAME: module for module in modules if getattr(module, "available", lambda: True)()}


def extractors_for(kind: str) -> list[ModuleType]:
    """The extractors that read a media item of this kind."""
    return [module for module in registry().values() if kind in module.KINDS]
