"""The suite against the reference server over HTTPS, with a throwaway CA (trustme):
verification is on by default, `--ca-bundle` trusts the CA, `--insecure` is loudly reported."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from conformance.server import ServerThread

FAST = ["--property-examples", "2"]
MINIMAL = ["-k", "minimal and conversation"]


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway CA, and a certificate it issued for 127.0.0.1 with its key."""
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    files = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    issued.private_key_pem.write_to_path(str(files["key"]))
    for pem in issued.cert_chain_pems:
        pem.write_to_path(str(files["cert"]), append=True)
    return files


@pytest.fixture(scope="module")
def https_server(tls_files: dict[str, Path]) -> Iterator[ServerThread]:
    with ServerThread(tls=(str(tls_files["cert"]), str(tls_files["key"]))) as server:
        yield server


def test_https_server_has_an_https_url(https_server: ServerThread) -> None:
    assert https_server.base_url.startswith("https://127.0.0.1:")
    assert https_server.url(fault="empty-id").startswith("https://")


@pytest.mark.slow
def test_untrusted_certificate_is_a_clear_connection_error(
    pytester: pytest.Pytester, https_server: ServerThread
) -> None:
    result = pytester.runpytest_subprocess("--target-url", https_server.base_url, *MINIMAL)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output[-3000:]
    assert "certificate is not trusted" in output
    assert "pass --ca-bundle FILE to trust its CA" in output
    assert "[MUST]" not in output  # not a conformance verdict


@pytest.mark.slow
def test_the_whole_suite_passes_with_the_ca_bundle(
    pytester: pytest.Pytester, https_server: ServerThread, tls_files: dict[str, Path]
) -> None:
    result = pytester.runpytest(
        "--target-url", https_server.base_url, "--ca-bundle", str(tls_files["ca"]), *FAST
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-3000:]
    assert "TLS verification is OFF" not in result.stdout.str()


@pytest.mark.slow
def test_ca_bundle_from_the_environment(
    pytester: pytest.Pytester,
    https_server: ServerThread,
    tls_files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONFORMANCE_CA_BUNDLE", str(tls_files["ca"]))
    result = pytester.runpytest("--target-url", https_server.base_url, *MINIMAL)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-3000:]


@pytest.mark.slow
def test_insecure_passes_with_a_loud_warning(
    pytester: pytest.Pytester, https_server: ServerThread
) -> None:
    result = pytester.runpytest("--target-url", https_server.base_url, "--insecure", *MINIMAL)
    output = result.stdout.str()
    assert result.ret == pytest.ExitCode.OK, output[-3000:]
    header, _, summary = output.partition("[100%]")
    assert "WARNING: TLS verification is OFF (--insecure)" in header
    assert "WARNING: TLS verification was OFF (--insecure)" in summary
