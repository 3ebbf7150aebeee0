"""Flows by id and version, each compiled once into the engine that serves all its sessions."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from flows.compile import compile_flow
from flows.engine import Engine
from flows.load import FLOW_ID, bundled_flow_paths, find_flow, parse_flow


@dataclass(frozen=True)
class Loaded:
    engine: Engine
    source: str


class FlowRegistry:
    """Finds flow files (extra folders first, by default those in ``CASEFLOW_FLOWS``, then
    the bundled ones) and caches one engine per flow version."""

    def __init__(self, search: Iterable[Path] | None = None) -> None:
        if search is None:
            extra = os.environ.get("CASEFLOW_FLOWS", "")
            search = [Path(p) for p in extra.split(os.pathsep) if p]
        self.search = [Path(p) for p in search]
        self._engines: dict[tuple[str, int], Engine] = {}
        self._files: dict[Path, tuple[float, Loaded]] = {}

    def current(self, name: str, *, allow_path: bool = False) -> Loaded:
        """The flow as its file says now (re-read only when the file changed). ``name`` is a
        flow id; a file path only with ``allow_path`` (the terminal's ``caseflow chat``)."""
        path = find_flow(name, self.search, allow_path=allow_path).resolve()
        mtime = path.stat().st_mtime
        cached = self._files.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
        source = path.read_text(encoding="utf-8")
        flow = parse_flow(source, str(path))
        key = (flow.id, flow.version)
        engine = self._engines.get(key)
        if engine is None or engine.flow != flow:
            engine = Engine(compile_flow(flow))
            self._engines[key] = engine
        loaded = Loaded(engine, source)
        self._files[path] = (mtime, loaded)
        return loaded

    def engine(self, flow_id: str, version: int, stored_source: Callable[[], str]) -> Engine:
        """The engine of one version; an old version is rebuilt from the text stored with it."""
        engine = self._engines.get((flow_id, version))
        if engine is None:
            flow = parse_flow(stored_source(), f"{flow_id} v{version} (stored)")
            engine = Engine(compile_flow(flow))
            self._engines[(flow_id, version)] = engine
        return engine

    def known(self, flow_id: str) -> bool:
        """Whether ``flow_id`` is a well-formed id of a flow this installation has."""
        return bool(FLOW_ID.match(flow_id)) and any(p.stem == flow_id for p in self.available())

    def respondent(self, flow_id: str) -> str:
        """Who answers the flow: caregiver, client, worker or anyone."""
        return str(self.current(flow_id).engine.flow.respondent)

    def available(self) -> list[Path]:
        seen: dict[str, Path] = {}
        for folder in self.search:
            for path in sorted(Path(folder).glob("*.y*ml")):
                seen.setdefault(path.stem, path)
        for path in bundled_flow_paths():
            seen.setdefault(path.stem, path)
        return sorted(seen.values(), key=lambda p: p.stem)
