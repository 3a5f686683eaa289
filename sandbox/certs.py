"""The host's CA bundle, carried into containers that reach package registries.

Networks that intercept TLS (corporate proxies, our CI) re-sign traffic with their own
authority; a container trusts it only when it is given the same bundle as the host.
"""

from __future__ import annotations

import os
from pathlib import Path

# Where the bundle is put inside a container, and the variables that make tools read it.
CONTAINER_CA_PATH = "/etc/ssl/certs/patchsmith-host-ca.pem"
CA_ENV_VARS = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "NODE_EXTRA_CA_CERTS")

_SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/cert.pem",  # macOS, OpenBSD
    "/etc/ssl/ca-bundle.pem",  # openSUSE
)


def host_ca_bundle() -> Path | None:
    """The CA bundle the host trusts: SSL_CERT_FILE, REQUESTS_CA_BUNDLE, PIP_CERT, else the system's."""
    for var in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT"):
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value)
    for candidate in _SYSTEM_BUNDLES:
        if Path(candidate).is_file():
            return Path(candidate)
    return None


def resolve_ca_bundle(ca_bundle: str | Path | None) -> Path | None:
    """"auto" finds the host's bundle; None carries nothing; a path is used as given."""
    if ca_bundle == "auto":
        return host_ca_bundle()
    if ca_bundle is None:
        return None
    if not Path(ca_bundle).is_file():
        from patchsmith.sandbox.errors import SandboxError

        raise SandboxError(f"The CA bundle {ca_bundle} does not exist; name a PEM file of certificates, or none.")
    return Path(ca_bundle)


def ca_environment() -> dict[str, str]:
    """Environment that points every common tool at the carried bundle."""
    return {var: CONTAINER_CA_PATH for var in CA_ENV_VARS}
