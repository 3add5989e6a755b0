"""Settings: development defaults work; production refuses every development secret."""

from __future__ import annotations

import base64

import pytest

from tailguard.contracts.signed_note import SignerKey
from tailguard.infra.settings import SettingsError, load_settings


def test_development_defaults_need_nothing_set() -> None:
    settings = load_settings({})
    assert settings.database_url.startswith("sqlite:///")
    settings.check_for_production()  # not production: nothing to refuse


def test_production_refuses_the_development_secrets_naming_each() -> None:
    settings = load_settings({"TAILGUARD_MODE": "production"})
    with pytest.raises(SettingsError) as refused:
        settings.check_for_production()
    message = str(refused.value)
    for variable in ("TAILGUARD_FIELD_KEYS", "TAILGUARD_TOKEN_SECRET", "TAILGUARD_LOG_KEYS",
                     "TAILGUARD_GATEWAY_SECRET"):
        assert variable in message


def test_production_with_its_own_keys_starts() -> None:
    key = base64.b64encode(bytes(range(32))).decode()
    settings = load_settings({
        "TAILGUARD_MODE": "production",
        "TAILGUARD_FIELD_KEYS": f"k2026:{key}",
        "TAILGUARD_TOKEN_SECRET": "a-long-random-secret-from-the-vault",
        "TAILGUARD_LOG_KEYS": SignerKey.generate("lender.example/log").encode(),
        "TAILGUARD_GATEWAY_SECRET": "another-long-random-secret-from-the-vault",
    })
    settings.check_for_production()
    assert settings.field_keys[0][0] == "k2026"


@pytest.mark.parametrize(("value", "word"), [("k1", "KEY_ID:BASE64"), ("k1:!!", "base64"),
                                             ("k1:AAAA", "32 bytes")])
def test_bad_field_keys_are_named(value: str, word: str) -> None:
    with pytest.raises(SettingsError) as bad:
        load_settings({"TAILGUARD_FIELD_KEYS": value})
    assert word in str(bad.value)


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(SettingsError):
        load_settings({"TAILGUARD_MODE": "staging"})
