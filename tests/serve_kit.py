"""Runs `maat serve` as a real process for integration tests (started, killed, stopped)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def maat_command() -> list[str]:
    script = shutil.which("maat", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "maat.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`maat serve` on a free port over ``data_dir``; ``env`` adds settings."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MAAT_")}
        self.env["MAAT_DATA_DIR"] = str(data_dir)
        self.env["MAAT_TELEMETRY_LAKE_FLUSH_INTERVAL"] = "0.05"
        self.env["MAAT_TELEMETRY_LAKE_BATCH_ROWS"] = "300"
        self.env.update(env)
        self.log = data_dir / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = ""

    def start(self) -> None:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [*maat_command(), "serve", "--port", str(port)], env=self.env, stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"maat serve did not start: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=60)
