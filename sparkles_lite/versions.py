"""The dependency floors this package declares (pyproject.toml, read back from the installed metadata so
they live in one place), checked where an older version would fail with an obscure error instead."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, requires, version

DISTRIBUTION = "sparkles-lite"
_FLOOR = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][0-9.]*)\s*$")


class DependencyTooOld(RuntimeError):
    """An installed dependency is older than the floor sparkles-lite declares."""


def _release(text: str) -> tuple[int, ...]:
    """`5.0.0rc1` -> (5, 0, 0): the numeric release, enough to compare against a floor like `5.0`."""
    numbers = re.match(r"[0-9]+(?:\.[0-9]+)*", text)
    return tuple(int(n) for n in numbers.group(0).split(".")) if numbers else ()


def declared_floor(package: str) -> str | None:
    """The `package>=X` floor among sparkles-lite's runtime requirements; None when there is none (or
    the package is run from sources that were never installed)."""
    try:
        lines = requires(DISTRIBUTION) or []
    except PackageNotFoundError:
        return None
    for line in lines:
        m = _FLOOR.match(line)
        if m and m.group(1).lower().replace("_", "-") == package.lower().replace("_", "-"):
            return m.group(2)
    return None


def too_old(package: str, installed: str | None = None) -> str | None:
    """One line saying what to install when `package` is older than its floor, else None."""
    floor = declared_floor(package)
    installed = installed or version(package)
    if floor is None or _release(installed) >= _release(floor):
        return None
    return f'sparkles-lite needs {package}>={floor} (found {installed}): pip install -U "{package}>={floor}"'


def require(package: str) -> None:
    """Raise DependencyTooOld (one line naming the version needed) when `package` is below its floor."""
    problem = too_old(package)
    if problem:
        raise DependencyTooOld(problem)
