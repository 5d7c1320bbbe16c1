"""`tronador certs` actions that need no cluster."""

from __future__ import annotations

import argparse
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from certs import cli, defaults, pki
from tests.certs.helpers import https_get
from tronador.cli import main


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tronador certs")
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_generate_writes_usable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "certs"
    args = parse(
        "generate",
        "--out",
        str(out),
        "--service",
        "hook",
        "--namespace",
        "ns",
        "--dns",
        "hook.example.test",
        "--ip",
        "127.0.0.1",
        "--ca-days",
        "100",
        "--leaf-days",
        "10",
    )
    assert cli.run(args) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out / 'tls.key'}" in printed
    assert stat.S_IMODE((out / "tls.key").stat().st_mode) == 0o600
    ca = pki.load_certs((out / "ca.crt").read_bytes())[0]
    leaf = pki.load_certs((out / "tls.crt").read_bytes())[0]
    assert pki.is_signed_by(leaf, ca)
    assert (ca.not_valid_after_utc - datetime.now(UTC)).days in (99, 100)
    assert (leaf.not_valid_after_utc - datetime.now(UTC)).days in (9, 10)
    assert "hook.ns.svc.cluster.local" in pki.dns_sans(leaf)
    assert "hook.example.test" in pki.dns_sans(leaf)


async def test_generated_files_serve_tls(tmp_path: Path) -> None:
    assert cli.run(parse("generate", "--out", str(tmp_path), "--ip", "127.0.0.1")) == 0
    body = await https_get(
        tmp_path / "tls.crt", tmp_path / "tls.key", (tmp_path / "ca.crt").read_bytes()
    )
    assert body == "hello over tls"


def test_generate_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.run(parse("generate", "--out", str(tmp_path))) == 0
    before = (tmp_path / "tls.crt").read_bytes()
    capsys.readouterr()
    assert cli.run(parse("generate", "--out", str(tmp_path))) == 2  # unusable input
    err = capsys.readouterr().err
    assert err.startswith("tronador certs: error:") and "--force" in err
    assert err.count("\n") == 1
    assert (tmp_path / "tls.crt").read_bytes() == before
    assert cli.run(parse("generate", "--out", str(tmp_path), "--force")) == 0
    assert (tmp_path / "tls.crt").read_bytes() != before


def test_generate_rejects_leaf_longer_than_ca(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse("generate", "--out", str(tmp_path), "--ca-days", "5", "--leaf-days", "10")
    assert cli.run(args) == 2  # unusable input
    assert "--ca-days" in capsys.readouterr().err


def test_bad_arguments_are_usage_errors() -> None:
    with pytest.raises(SystemExit) as err:
        parse("generate", "--out", "x", "--ip", "not-an-ip")
    assert err.value.code == 2
    with pytest.raises(SystemExit):
        parse("sync", "--interval", "0")


def test_status_from_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli.run(parse("generate", "--out", str(tmp_path), "--dns", "extra.test"))
    capsys.readouterr()
    assert cli.run(parse("status", "--dir", str(tmp_path), "--dns", "extra.test")) == 0
    out = capsys.readouterr().out
    assert "subject   tronador-webhook-ca@" in out
    assert "subject   tronador-webhook.tronador-system.svc" in out
    assert "tronador-webhook.tronador-system.svc.cluster.local" in out
    assert "days left" in out
    assert "Status: OK" in out


def test_status_reports_problems_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.run(parse("generate", "--out", str(tmp_path)))
    other = tmp_path / "other"
    cli.run(parse("generate", "--out", str(other)))
    (tmp_path / "tls.key").write_bytes((other / "tls.key").read_bytes())
    capsys.readouterr()
    assert cli.run(parse("status", "--dir", str(tmp_path), "--ip", "10.0.0.9")) == 3
    out = capsys.readouterr().out
    assert "serving key does not match serving certificate" in out
    assert "lacks SANs 10.0.0.9" in out
    (tmp_path / "ca.crt").write_bytes(b"garbage")
    assert cli.run(parse("status", "--dir", str(tmp_path))) == 3
    assert "CA bundle: certificate PEM does not parse" in capsys.readouterr().out


def test_environment_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAMESPACE", "from-downward-api")
    assert parse("status").namespace == "from-downward-api"
    monkeypatch.setenv("TRONADOR_NAMESPACE", "elsewhere")
    monkeypatch.setenv("TRONADOR_WEBHOOK_SECRET", "my-tls")
    monkeypatch.setenv("TRONADOR_CERT_DIR", "/tmp/x")
    args = parse("sync")
    assert (args.namespace, args.secret_name, args.out) == ("elsewhere", "my-tls", "/tmp/x")
    assert parse("sync", "--namespace", "cli-wins").namespace == "cli-wins"


def test_cert_dir_agrees_with_the_webhook_server() -> None:
    webhook_cli = pytest.importorskip("webhook.cli")
    assert str(Path(defaults.CERT_DIR) / defaults.TLS_CERT_FILE) == webhook_cli.DEFAULT_CERT_FILE
    assert str(Path(defaults.CERT_DIR) / defaults.TLS_KEY_FILE) == webhook_cli.DEFAULT_KEY_FILE


@pytest.mark.parametrize(
    "flags",
    [
        ("--dns", "ü.example"),
        ("--dns", "a b"),
        ("--service", "Bad_Name!"),
        ("--namespace", "Nope"),
        ("--ca-days", "99999999"),
    ],
)
def test_generate_refuses_names_and_lifetimes_a_certificate_cannot_carry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: tuple[str, str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["certs", "generate", "--out", str(tmp_path / "tls"), *flags])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flags[0] in err
    assert not (tmp_path / "tls").exists()


def test_generate_into_a_file_or_nowhere_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert cli.run(parse("generate", "--out", str(target))) == 2
    assert cli.run(parse("generate", "--out", "")) == 2
    assert list(tmp_path.iterdir()) == [target]
    assert capsys.readouterr().err.count("\n") == 2
