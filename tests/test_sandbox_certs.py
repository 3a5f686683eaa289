"""The host's CA bundle is carried into builds and containers that install packages.

A package index is served over HTTPS on 127.0.0.1 with a certificate from a CA made here; the
build container joins the host network so traffic stays on loopback. The install fails when
the CA is not carried, and succeeds when it is: remove the carrying and the second half fails.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.server
import ipaddress
import ssl
import threading
import time
import zipfile
from functools import partial
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from patchsmith.sandbox import BuildFailed, Container, EnvRecipe, build_env_image
from patchsmith.sandbox.engine import client

pytestmark = pytest.mark.docker


def _make_ca_and_server_cert(folder: Path) -> tuple[Path, Path, Path]:
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "patchsmith test CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return ca_path, cert_path, key_path


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _make_index(root: Path) -> None:
    """A PEP 503 simple index holding one tiny wheel, `tinypkg`."""
    files = {
        "tinypkg/__init__.py": b"ANSWER = 42\n",
        "tinypkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n",
        "tinypkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files.items()) + "tinypkg-1.0.dist-info/RECORD,,\n"
    wheel = root / "files" / "tinypkg-1.0-py3-none-any.whl"
    wheel.parent.mkdir(parents=True)
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr("tinypkg-1.0.dist-info/RECORD", record)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    page = root / "simple" / "tinypkg" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text(f'<html><body><a href="/files/{wheel.name}#sha256={digest}">{wheel.name}</a></body></html>\n')


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # noqa: ANN002 - keep test output clean
        pass


@pytest.fixture(scope="module")
def https_index(tmp_path_factory):
    """(url of the simple index, path of the CA that signed its certificate)."""
    folder = tmp_path_factory.mktemp("https-index")
    ca_path, cert_path, key_path = _make_ca_and_server_cert(folder)
    _make_index(folder / "www")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder / "www")))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/simple/", ca_path
    server.shutdown()
    server.server_close()


def test_install_in_a_build_needs_the_carried_ca(https_index, bookworm_base_image, sandbox_fixture_repo, sandbox_cache_dir, tmp_path):
    url, ca_path = https_index
    root, commit = sandbox_fixture_repo
    recipe = EnvRecipe(
        setup=(f"python -m pip install --retries 0 --timeout 10 --index-url {url} tinypkg", "python -c 'import tinypkg; assert tinypkg.ANSWER == 42'"),
        env=(("TEST_NONCE", str(time.time_ns())),),  # a fresh tag: never a cache hit from an earlier run
    )
    with pytest.raises(BuildFailed) as info:
        build_env_image(root, commit, recipe, cache_dir=sandbox_cache_dir, network="host", ca_bundle=None, log_path=tmp_path / "no-ca.log")
    assert "CERTIFICATE_VERIFY_FAILED" in (tmp_path / "no-ca.log").read_text() or "certificate verify failed" in str(info.value)
    image = build_env_image(root, commit, recipe, cache_dir=sandbox_cache_dir, network="host", ca_bundle=ca_path, log_path=tmp_path / "ca.log")
    try:
        assert image.built
        with Container(image.tag) as c:
            assert c.exec("python -c 'import tinypkg; print(tinypkg.ANSWER)'").stdout == "42\n"
            # The bundle served the build's commands only: the image's test suites keep their own
            # trust (a suite that serves TLS itself, as requests' does, must not be overridden).
            assert c.exec("env | grep -c _CA_BUNDLE || true").stdout == "0\n"
    finally:
        client().api.remove_image(image.tag, force=True)


def test_a_container_trusts_the_carried_ca(https_index, bookworm_base_image):
    url, ca_path = https_index
    fetch = ["python3", "-c", f"import urllib.request; print(urllib.request.urlopen({url + 'tinypkg/'!r}, timeout=10).status)"]
    with Container(bookworm_base_image, network="host") as bare:
        refused = bare.exec(fetch)
    assert not refused.ok and "CERTIFICATE_VERIFY_FAILED" in refused.output
    with Container(bookworm_base_image, network="host", ca_bundle=ca_path) as carrying:
        assert carrying.exec(fetch).stdout == "200\n"
