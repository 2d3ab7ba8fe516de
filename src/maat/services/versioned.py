"""Versioned, audited documents (the access policy, the segmentation) and a per-process
cache of the newest version, parsed.

Applying stores the text verbatim with its SHA-256 as the next version and audits who did
it; a document with problems is refused with all of them. Servers re-read the newest
version at most once per ``access.policy_check_interval``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from maat.access.records import PolicyVersion
from maat.core.ids import new_id
from maat.errors import InvalidInput, Problem
from maat.services.platform import Platform

__all__ = ["Latest", "apply_document"]

T = TypeVar("T")
Reader = Callable[..., tuple[Any, list[Problem]]]


def apply_document(
    platform: Platform, actor: str, kind: str, text: str, *, source: str, read: Reader
) -> PolicyVersion:
    """Store ``text`` as the next version of ``kind`` (audited); ``InvalidInput`` listing
    every problem when ``read`` does not load it."""
    parsed, problems = read(text, source=source)
    if parsed is None:
        raise InvalidInput(
            f"the {kind} document has {len(problems)} problem(s): "
            + "; ".join(map(str, problems[:10])),
            file=source, hint=f"run `maat {'policy' if kind == 'access' else kind} lint` "
            "for the full list",
        )  # fmt: skip
    digest = hashlib.sha256(text.encode()).hexdigest()
    with platform.transaction() as uow:
        version = PolicyVersion(
            id=new_id("pver"), kind=kind, version=uow.policy_versions.latest_version(kind) + 1,
            name=str(getattr(parsed, "name", source))[:200], text=text, digest=digest,
            created_at=platform.now(), created_by=actor,
        )  # fmt: skip
        uow.policy_versions.add(version)
        platform.audit(uow, actor, f"{kind}.apply", f"{kind}:{version.version}", digest=digest)
    return version


class Latest(Generic[T]):
    """The newest version of ``kind``, parsed by ``build`` (None until one is applied)."""

    def __init__(
        self, platform: Platform, kind: str, build: Callable[[PolicyVersion | None], T]
    ) -> None:
        self.platform, self.kind, self._build = platform, kind, build
        self._lock = threading.Lock()
        self._value: T = build(None)
        self._version_id: str | None = None
        self._checked = float("-inf")
        self._epoch: int | None = None

    def get(self, epoch: int | None = None) -> T:
        """The parsed newest version. With the store's change ``epoch`` (which applying a
        version moves) it is looked up only when the epoch moved; without, at most once
        per ``access.policy_check_interval``."""
        if epoch is not None:
            if epoch == self._epoch:
                return self._value
        elif time.monotonic() - self._checked < float(
            self.platform.settings.access.policy_check_interval
        ):
            return self._value
        with self.platform.transaction(write=False) as uow:
            latest = uow.policy_versions.latest(self.kind)
        with self._lock:
            self._checked = time.monotonic()
            if latest is not None and latest.id != self._version_id:
                self._value = self._build(latest)
                self._version_id = latest.id
            if epoch is not None:
                self._epoch = epoch
        return self._value
