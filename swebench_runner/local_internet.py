"""The part of the internet a test suite talks to, played inside its network-less container.

requests' suites fetch http:// and https:// pages of httpbin.org, follow redirects to other
hosts, and expect a connection to an unroutable address to time out. The official harness runs
them online; our tests run with no network, so before the suite starts this script:

- resolves the given host names to 127.0.0.1 (in /etc/hosts);
- serves httpbin (the same application, installed in the environment from PyPI, under gunicorn as
  httpbin.org runs it) there on port 80, and on port 443 with a certificate for those names,
  signed by a CA made here and appended to the CA bundles the suite reads (certifi's, and the
  work tree's own where given);
- routes each "tarpit" address into the loopback device, where its packets are dropped unanswered,
  so a connection to it times out as it does on the internet (this needs CAP_NET_ADMIN; the
  packets never leave the container).

Run inside the container with the environment's Python, from the work tree:
    python local_internet.py --host httpbin.org --tarpit 10.255.255.1 --trust requests/cacert.pem
It is idempotent: a second run in the same container reuses the CA and the running server.
This file is copied into environment images; it needs only the standard library, openssl, iproute2
and (for the servers) httpbin and gunicorn.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

STATE = Path("/tmp/patchsmith-local-internet")
PORTS = (80, 443)


def resolve_locally(hosts: list[str]) -> None:
    lines = Path("/etc/hosts").read_text().splitlines()
    missing = [host for host in hosts if f"127.0.0.1 {host}" not in lines]
    if missing:
        with open("/etc/hosts", "a") as hosts_file:
            hosts_file.writelines(f"127.0.0.1 {host}\n" for host in missing)


def route_to_nowhere(addresses: list[str]) -> None:
    for address in addresses:
        done = subprocess.run(["ip", "route", "replace", f"{address}/32", "dev", "lo"], capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"local_internet: cannot route {address} into loopback ({done.stderr.strip()}); "
                     "the container needs CAP_NET_ADMIN")


def make_certificates(hosts: list[str]) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key), made once per container."""
    ca, cert, key = STATE / "ca.pem", STATE / "server.pem", STATE / "server.key"
    if cert.exists():
        return ca, cert, key
    STATE.mkdir(parents=True, exist_ok=True)
    # Our own OpenSSL configuration, so that the extensions do not depend on the system's defaults.
    config = STATE / "openssl.cnf"
    config.write_text("[req]\ndistinguished_name = dn\nx509_extensions = ca\n[dn]\n"
                      "[ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
                      "subjectKeyIdentifier = hash\n")
    names = ",".join(f"DNS:{host}" for host in hosts)
    (STATE / "server.ext").write_text(f"subjectAltName={names}\n")
    ec = ["-config", str(config), "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    steps = [
        ["openssl", "req", "-x509", *ec, "-keyout", str(STATE / "ca.key"), "-out", str(ca), "-days", "3650",
         "-subj", "/CN=patchsmith local internet CA"],
        ["openssl", "req", *ec, "-keyout", str(key), "-out", str(STATE / "server.csr"), "-subj", f"/CN={hosts[0]}"],
        ["openssl", "x509", "-req", "-in", str(STATE / "server.csr"), "-CA", str(ca), "-CAkey", str(STATE / "ca.key"),
         "-CAcreateserial", "-out", str(cert), "-days", "3650", "-extfile", str(STATE / "server.ext")],
    ]
    for step in steps:
        subprocess.run(step, check=True, capture_output=True)
    return ca, cert, key


def trust(ca: Path, bundles: list[str]) -> None:
    """Append the CA to each bundle that does not hold it yet."""
    try:
        import certifi

        bundles = [certifi.where(), *bundles]
    except ImportError:
        pass
    pem = ca.read_text()
    for bundle in bundles:
        path = Path(bundle)
        if path.is_file() and pem not in path.read_text():
            with open(path, "a") as out:
                out.write("\n" + pem)


def answering(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def start_servers(cert: Path, key: Path) -> None:
    """httpbin under gunicorn, as httpbin.org runs it (persistent connections, chunked uploads):
    one server for port 80 and one with TLS for 443, left running until the container ends."""
    if all(answering(port) for port in PORTS):
        return
    log = open(STATE / "server.log", "ab")
    gunicorn = [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--threads", "8", "--keep-alive", "5"]
    for port, tls in ((80, []), (443, ["--certfile", str(cert), "--keyfile", str(key)])):
        if not answering(port):
            subprocess.Popen([*gunicorn, *tls, "--bind", f"127.0.0.1:{port}", "httpbin:app"], stdout=log, stderr=log,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while not all(answering(port) for port in PORTS):
        if time.monotonic() > deadline:
            sys.exit(f"local_internet: httpbin did not start; see {STATE / 'server.log'}")
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", action="append", default=[], help="a name served locally (repeatable)")
    parser.add_argument("--tarpit", action="append", default=[], help="an address whose connections time out")
    parser.add_argument("--trust", action="append", default=[], help="a CA bundle file that must trust the local CA")
    args = parser.parse_args(argv)
    route_to_nowhere(args.tarpit)
    if args.host:
        resolve_locally(args.host)
        ca, cert, key = make_certificates(args.host)
        trust(ca, args.trust)
        start_servers(cert, key)


if __name__ == "__main__":
    os.umask(0o022)
    main()
