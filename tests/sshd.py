"""A real OpenSSH ``sshd`` on 127.0.0.1, serving ``git-upload-pack``/``git-receive-pack`` to the
current user with the client keys the test authorises.

The server runs with its own config in a temporary folder: a host key generated for the test
(``ssh-keygen``), ``AuthorizedKeysFile`` in that folder, ``UsePAM no``, ``StrictModes no``;
it stops when the context ends. ``SshServer.available()`` says why it cannot run (no sshd).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["SshServer", "keygen"]


def keygen(path: Path, key_type: str, *, pem: bool = False, passphrase: str = "") -> Path:
    """Make a key pair at ``path`` (``path.pub`` for the public half); return ``path``."""
    args = ["ssh-keygen", "-q", "-t", key_type, "-N", passphrase, "-f", str(path), "-C", "test"]
    if key_type == "rsa":
        args += ["-b", "2048"]
    if pem:
        args += ["-m", "PEM"]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SshServer:
    def __init__(self, folder: Path, host_key_type: str = "ed25519") -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.host_key = keygen(folder / f"host_{host_key_type}", host_key_type)
        self.authorized = folder / "authorized_keys"
        self.authorized.write_text("")
        self.port = _free_port()
        self.user = getpass.getuser()
        self.log = folder / "sshd.log"
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> str | None:
        """None when sshd can run here, else why not."""
        return None if shutil.which("sshd") or Path("/usr/sbin/sshd").exists() else "no sshd"

    def authorize(self, public_key: Path) -> None:
        with self.authorized.open("a") as out:
            out.write(public_key.read_text())

    def host_public_key(self) -> str:
        """``type base64`` of the server's host key."""
        return " ".join(Path(f"{self.host_key}.pub").read_text().split()[:2])

    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_public_key()}\n"

    def url(self, repo: Path) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{repo}"

    def start(self) -> SshServer:
        config = self.folder / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.host_key}\n"
            f"PidFile {self.folder / 'sshd.pid'}\nAuthorizedKeysFile {self.authorized}\n"
            "UsePAM no\nStrictModes no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
            "PermitRootLogin prohibit-password\nLogLevel VERBOSE\n"
        )
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation folder
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [sshd, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=log
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not listen: {self.log.read_text()}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)

    def __enter__(self) -> SshServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
