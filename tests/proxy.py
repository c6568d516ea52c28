"""Debian's ``tinyproxy`` as an HTTP CONNECT proxy on 127.0.0.1, started by the test; its log
tells which ``CONNECT`` requests went through it."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["TinyProxy"]


class TinyProxy:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.log = folder / "tinyproxy.log"
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> str | None:
        return None if shutil.which("tinyproxy") else "no tinyproxy installed"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connects(self) -> list[str]:
        """The ``CONNECT host:port`` lines the proxy served, in order."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return re.findall(r"Request \(file descriptor \d+\): CONNECT (\S+)", text)

    def __enter__(self) -> TinyProxy:
        config = self.folder / "tinyproxy.conf"
        user = "User nobody\nGroup nogroup\n" if os.geteuid() == 0 else ""
        config.write_text(
            f"{user}Port {self.port}\nListen 127.0.0.1\nTimeout 30\nLogLevel Connect\n"
            "MaxClients 20\nAllow 127.0.0.1\n"
        )
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                ["tinyproxy", "-d", "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"tinyproxy exited: {self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"tinyproxy did not listen: {self.log.read_text()}")

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)
