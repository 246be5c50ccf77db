"""Bootstrap and join tokens: formats, the Secret layout upstream uses, and expiry."""

from __future__ import annotations

import base64
import hashlib

import pytest

from kubelite.api import bootstraptoken as bt

CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_generated_tokens_match_the_upstream_format() -> None:
    seen = set()
    for _ in range(20):
        token_id, token_secret = bt.generate_token()
        assert bt.TOKEN_PATTERN.match(f"{token_id}.{token_secret}")
        seen.add(token_id)
    assert len(seen) > 1


def test_join_token_pins_the_sha256_of_the_ca_pem() -> None:
    text = bt.join_token(CA, "abcdef", "0123456789abcdef")
    assert text == f"K10{hashlib.sha256(CA).hexdigest()}::abcdef.0123456789abcdef"
    parsed = bt.parse_join_token(text + "\n")
    assert (parsed.token_id, parsed.token_secret, parsed.ca_hash) == ("abcdef", "0123456789abcdef", hashlib.sha256(CA).hexdigest())
    assert parsed.bearer == "abcdef.0123456789abcdef"


def test_a_bare_token_pins_nothing() -> None:
    parsed = bt.parse_join_token("abcdef.0123456789abcdef")
    assert parsed.ca_hash == "" and parsed.bearer == "abcdef.0123456789abcdef"


@pytest.mark.parametrize(
    "text",
    ["", "abcdef", "ABCDEF.0123456789abcdef", "abcde.0123456789abcdef", "abcdef.0123456789abcde", "K10xyz::abcdef.0123456789abcdef"],
)
def test_malformed_join_tokens_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        bt.parse_join_token(text)


def test_secret_object_is_upstream_layout() -> None:
    secret = bt.token_secret_object("abcdef", "0123456789abcdef", ttl_seconds=3600, description="node join", now=1_700_000_000)
    assert secret["metadata"] == {"name": "bootstrap-token-abcdef", "namespace": "kube-system"}
    assert secret["type"] == "bootstrap.kubernetes.io/token"
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data == {
        "token-id": "abcdef",
        "token-secret": "0123456789abcdef",
        "usage-bootstrap-authentication": "true",
        "usage-bootstrap-signing": "true",
        "auth-extra-groups": "system:bootstrappers:kubelite:default-node-token",
        "expiration": "2023-11-14T23:13:20Z",
        "description": "node join",
    }
    assert bt.secret_data(secret) == data
    forever = bt.token_secret_object("abcdef", "0123456789abcdef", ttl_seconds=0)
    assert "expiration" not in forever["data"]


def test_expiry() -> None:
    assert not bt.expired({}, 2e9)
    assert bt.expired({"expiration": "2023-11-14T22:13:20Z"}, 1_700_000_000)
    assert not bt.expired({"expiration": "2023-11-14T22:13:20Z"}, 1_699_999_999)
    assert not bt.expired({"expiration": "2023-11-14T23:13:20+01:00"}, 1_699_999_999)
    assert bt.expired({"expiration": "2023-11-14T23:13:20+01:00"}, 1_700_000_000)
    assert bt.expired({"expiration": "tomorrow"}, 0)


def test_extra_groups_must_be_bootstrapper_groups() -> None:
    assert bt.extra_groups({"auth-extra-groups": "system:bootstrappers:a, system:bootstrappers:b"}) == (
        "system:bootstrappers:a",
        "system:bootstrappers:b",
    )
    assert bt.extra_groups({}) == ()
    assert bt.extra_groups({"auth-extra-groups": "system:masters"}) is None
