"""A private Dovecot IMAP server on loopback, for the poller's tests.

Its own config, a passwd-file user and a maildir in a temporary folder; IMAPS with a
trustme certificate. Nothing system-wide is touched. Needs Debian's ``dovecot-imapd``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import trustme

USER = "intake"
PASSWORD = "imap-test-password"

_CONF = """
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{base}/cert.pem
ssl_key = <{base}/key.pem
auth_mechanisms = plain
disable_plaintext_auth = yes
mail_location = maildir:~/Maildir
first_valid_uid = {uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {base}/passwd
}}
userdb {{
  driver = passwd-file
  args = {base}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {starttls_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
namespace inbox {{
  inbox = yes
  mailbox Processed {{
    auto = create
  }}
}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    def __init__(self) -> None:
        self.binary = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin")
        if self.binary is None:
            raise RuntimeError("dovecot is not installed: apt-get install -y dovecot-imapd")
        self.base = Path(tempfile.mkdtemp(prefix="casedesk-dovecot-"))
        # Dovecot's own processes (users dovecot/dovenull when run as root) read these.
        self.base.chmod(0o755)
        self.port = _free_port()  # IMAPS
        self.starttls_port = _free_port()  # IMAP + STARTTLS
        self.proc: subprocess.Popen | None = None
        # As root, mail is owned by the package's "dovecot" user (Dovecot refuses uid 0);
        # otherwise by whoever runs the tests.
        self.mail_user = pwd.getpwnam("dovecot") if os.geteuid() == 0 else pwd.getpwuid(os.getuid())
        self.home = self.base / "home" / USER
        self.ca_file = self.base / "ca.pem"
        self._delivered = 0

    def start(self) -> None:
        ca = trustme.CA()
        cert = ca.issue_cert("localhost", "127.0.0.1")
        cert.private_key_pem.write_to_path(str(self.base / "key.pem"))
        cert.cert_chain_pems[0].write_to_path(str(self.base / "cert.pem"))
        ca.cert_pem.write_to_path(str(self.ca_file))
        uid, gid = self.mail_user.pw_uid, self.mail_user.pw_gid
        for sub in ("cur", "new", "tmp"):
            (self.home / "Maildir" / sub).mkdir(parents=True, exist_ok=True)
        for path in [
            self.base / "home",
            self.home,
            self.home / "Maildir",
            *(self.home / "Maildir").iterdir(),
        ]:
            os.chown(path, uid, gid)
        (self.base / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{self.home}\n")
        conf = _CONF.format(
            base=self.base, port=self.port, starttls_port=self.starttls_port, uid=uid
        )
        if os.geteuid() != 0:
            # Unprivileged: every Dovecot process runs as the user running the tests.
            name = self.mail_user.pw_name
            conf += f"default_internal_user = {name}\ndefault_login_user = {name}\n"
        (self.base / "dovecot.conf").write_text(conf)
        self.proc = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.base / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=(self.base / "stderr.log").open("w"),
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.base, ignore_errors=True)

    def log(self) -> str:
        parts = []
        for name in ("dovecot.log", "stderr.log"):
            path = self.base / name
            if path.exists():
                parts.append(path.read_text()[-3000:])
        return "\n".join(parts)

    def deliver(self, raw: bytes) -> Path:
        """Drop a message into the maildir, as a local delivery agent would."""
        self._delivered += 1
        name = f"{time.time_ns()}.M{self._delivered}P{os.getpid()}.casedesk-test"
        tmp = self.home / "Maildir" / "tmp" / name
        tmp.write_bytes(raw)
        os.chown(tmp, self.mail_user.pw_uid, self.mail_user.pw_gid)
        final = self.home / "Maildir" / "new" / name
        tmp.rename(final)
        return final
