"""Configuration from the environment, with development defaults that production refuses.

Everything a deployment changes is an environment variable (TAILGUARD_*). The development
defaults make `tailguard demo` work on a fresh machine with nothing set; production mode
refuses to start while any secret is still the published development value, so a forgotten
setting fails loudly instead of encrypting borrowers' ID numbers with a key in the README.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEVELOPMENT_FIELD_KEY = base64.b64encode(b"tailguard-development-field-key!").decode()
DEVELOPMENT_TOKEN_SECRET = "tailguard-development-token-secret-not-for-production"
DEFAULT_DATABASE_PATH = Path("var") / "tailguard.db"
LOG_ORIGIN_DEFAULT = "tailguard.dev/log"
LENDER_NAME_DEFAULT = "天衢汽车金融有限公司（开发环境）"
LENDER_SEAT_DEFAULT = "310115"
DISPUTE_LOCAL_DEFAULT = "court:上海市浦东新区人民法院"
DISPUTE_CROSS_REGION_DEFAULT = "arbitration:上海仲裁委员会"


class SettingsError(RuntimeError):
    """The configuration cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    mode: str
    field_keys: tuple[tuple[str, bytes], ...]
    """(key id, 32-byte AES key); the first encrypts, all decrypt (rotation)."""
    token_secret: str
    token_minutes: int
    document_root: Path
    timezone: str
    log_origin: str = LOG_ORIGIN_DEFAULT
    log_signing_keys: tuple[str, ...] = ()
    """Signed-note private keys (PRIVATE+KEY+…); the first signs, all are trusted (rotation).
    Empty means the development key, which production refuses."""
    document_store: str = "local"
    """`local` (files under `document_root`) or `s3://BUCKET[/PREFIX]` (S3-compatible)."""
    s3_endpoint_url: str | None = None
    """An S3-compatible endpoint (MinIO, a cloud's OSS/COS S3 endpoint); None for AWS."""
    notary: str = "folder:var/notary"
    """Where signed checkpoints are anchored: `folder:PATH`, `http(s)://URL` or `none`."""
    checkpoint_minutes: int = 10
    """How often `tailguard serve` integrates the log and signs a checkpoint."""
    contract_language: str = "zh"
    lender_name: str = LENDER_NAME_DEFAULT
    lender_seat: str = LENDER_SEAT_DEFAULT
    """GB/T 2260 code of the lender's seat (住所地): the reference for 异地 borrowers."""
    dispute_local: str = DISPUTE_LOCAL_DEFAULT
    dispute_cross_region: str = DISPUTE_CROSS_REGION_DEFAULT
    """Dispute forums (`arbitration:NAME` or `court:NAME`) for borrowers in the lender's city
    and for cross-region (异地) borrowers; see contracts/documents.py and ADR 0006."""

    @property
    def production(self) -> bool:
        return self.mode == "production"

    def check_for_production(self) -> None:
        """Refuse development secrets in production."""
        if not self.production:
            return
        problems = []
        if any(base64.b64encode(key).decode() == DEVELOPMENT_FIELD_KEY for _, key in
               self.field_keys):
            problems.append("TAILGUARD_FIELD_KEYS still holds the development key")
        if self.token_secret == DEVELOPMENT_TOKEN_SECRET:
            problems.append("TAILGUARD_TOKEN_SECRET is the development secret")
        if not self.log_signing_keys:
            problems.append("TAILGUARD_LOG_KEYS is not set (the development log key would sign)")
        if problems:
            raise SettingsError("refusing to start in production: " + "; ".join(problems))


def _parse_keys(text: str) -> tuple[tuple[str, bytes], ...]:
    keys = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        key_id, _, encoded = item.partition(":")
        if not encoded:
            raise SettingsError("TAILGUARD_FIELD_KEYS entries are KEY_ID:BASE64, comma-separated")
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError as exc:
            raise SettingsError(f"TAILGUARD_FIELD_KEYS: key {key_id!r} is not base64") from exc
        if len(key) != 32:
            raise SettingsError(f"TAILGUARD_FIELD_KEYS: key {key_id!r} must be 32 bytes")
        keys.append((key_id, key))
    if not keys:
        raise SettingsError("TAILGUARD_FIELD_KEYS holds no key")
    return tuple(keys)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    mode = env.get("TAILGUARD_MODE", "development")
    if mode not in ("development", "production", "test"):
        raise SettingsError("TAILGUARD_MODE must be development, production or test")
    url = env.get("TAILGUARD_DATABASE_URL") or f"sqlite:///{DEFAULT_DATABASE_PATH}"
    return Settings(
        database_url=url,
        mode=mode,
        field_keys=_parse_keys(env.get("TAILGUARD_FIELD_KEYS", f"dev:{DEVELOPMENT_FIELD_KEY}")),
        token_secret=env.get("TAILGUARD_TOKEN_SECRET", DEVELOPMENT_TOKEN_SECRET),
        token_minutes=int(env.get("TAILGUARD_TOKEN_MINUTES", "60")),
        document_root=Path(env.get("TAILGUARD_DOCUMENT_ROOT", "var/documents")),
        timezone=env.get("TAILGUARD_TIMEZONE", "Asia/Shanghai"),
        log_origin=env.get("TAILGUARD_LOG_ORIGIN", LOG_ORIGIN_DEFAULT),
        log_signing_keys=tuple(
            k.strip() for k in env.get("TAILGUARD_LOG_KEYS", "").split(",") if k.strip()
        ),
        document_store=env.get("TAILGUARD_DOCUMENT_STORE", "local"),
        s3_endpoint_url=env.get("TAILGUARD_S3_ENDPOINT_URL") or None,
        notary=env.get("TAILGUARD_NOTARY", "folder:var/notary"),
        checkpoint_minutes=int(env.get("TAILGUARD_CHECKPOINT_MINUTES", "10")),
        contract_language=env.get("TAILGUARD_CONTRACT_LANGUAGE", "zh"),
        lender_name=env.get("TAILGUARD_LENDER_NAME", LENDER_NAME_DEFAULT),
        lender_seat=env.get("TAILGUARD_LENDER_SEAT", LENDER_SEAT_DEFAULT),
        dispute_local=env.get("TAILGUARD_DISPUTE_LOCAL", DISPUTE_LOCAL_DEFAULT),
        dispute_cross_region=env.get("TAILGUARD_DISPUTE_CROSS_REGION",
                                     DISPUTE_CROSS_REGION_DEFAULT),
    )
