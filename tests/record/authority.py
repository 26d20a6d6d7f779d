"""A real RFC 3161 time-stamping authority for tests: `openssl ts -reply` behind a small local HTTP server."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

EXTENSIONS = """
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[tsa]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

# The signer's own certificate goes into each token (certReq), and with `chain` the CA's too, in chain
# order as OpenSSL writes it (not the DER order a strict parser expects).
TSA_CONFIG = """
[tsa]
default_tsa = desk_test_tsa
[desk_test_tsa]
serial = {folder}/serial
crypto_device = builtin
signer_cert = {folder}/tsa.pem
signer_key = {folder}/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
other_policies = 1.3.6.1.4.1.99999.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
{chain}
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@dataclass
class Keys:
    """A CA and a time-stamping certificate it issued (critical extendedKeyUsage timeStamping), in `folder`."""

    folder: Path
    name: str
    chain: bool = False

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def config(self) -> Path:
        return self.folder / "tsa.cnf"

    def issue(self) -> Keys:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "ext.cnf").write_text(EXTENSIONS)
        ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
        _openssl(
            "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "3",
            "-subj", f"/CN={self.name} root CA", "-config", "ext.cnf", "-extensions", "ca",
            cwd=self.folder,
        )  # fmt: skip
        name = f"/CN={self.name}"
        _openssl("req", "-new", *ec, "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", name, cwd=self.folder)
        _openssl(
            "x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "tsa.pem", "-days", "2", "-extfile", "ext.cnf", "-extensions", "tsa",
            cwd=self.folder,
        )  # fmt: skip
        (self.folder / "serial").write_text("01\n")
        chain = f"certs = {self.folder}/ca.pem" if self.chain else ""
        self.config.write_text(TSA_CONFIG.format(folder=self.folder, chain=chain))
        return self

    def reply(self, query: bytes) -> bytes:
        """The authority's DER TimeStampResp to a DER TimeStampReq, as `openssl ts -reply` makes it."""
        with tempfile.TemporaryDirectory() as work:
            query_file, reply_file = Path(work) / "query.tsq", Path(work) / "reply.tsr"
            query_file.write_bytes(query)
            _openssl(
                "ts", "-reply", "-config", str(self.config), "-queryfile", str(query_file), "-out", str(reply_file),
                cwd=self.folder,
            )  # fmt: skip
            return reply_file.read_bytes()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        server = self.server
        query = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server.requests.append((self.path, self.headers.get("Content-Type")))
        with server.lock:  # openssl keeps the serial number in one file
            body = server.answer(query)
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@dataclass
class Authority:
    """The running server: `url` to configure, `keys` it signs with, `answer` to change what it sends."""

    url: str
    port: int
    keys: Keys
    httpd: http.server.ThreadingHTTPServer

    @property
    def requests(self) -> list:
        return self.httpd.requests

    def sign_with(self, keys: Keys) -> None:
        self.httpd.answer = keys.reply

    def answer_with(self, answer) -> None:
        """Send `answer(query)` instead of a real reply."""
        self.httpd.answer = answer

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def start(keys: Keys) -> Authority:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.requests, httpd.lock, httpd.answer = [], threading.Lock(), keys.reply
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    port = httpd.server_address[1]
    return Authority(url=f"http://127.0.0.1:{port}/tsr", port=port, keys=keys, httpd=httpd)


def openssl_has_ts() -> bool:
    if shutil.which("openssl") is None:
        return False
    return subprocess.run(["openssl", "ts", "-help"], capture_output=True).returncode == 0
