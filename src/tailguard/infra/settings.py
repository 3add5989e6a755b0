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
DEVELOPMENT_GATEWAY_SECRET = "tailguard-development-gateway-secret-not-for-production"


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
    # -- engagement: the contact policy and notification channels (docs/engagement.md)
    contact_profile: str = "cn-consumer-auto"
    """The lender's contact-policy profile: cn-bank, cn-consumer-auto or us-third-party."""
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "tailguard@localhost"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    sms_gateway: str = "sandbox"
    """`sandbox` (messages recorded in memory) or the provider's https URL."""
    sms_api_key: str | None = None
    wechat: str = "sandbox"
    """`sandbox` or `APPID:SECRET` of the WeChat official account (template messages)."""
    wechat_templates: str = ""
    """`template=WECHAT_TEMPLATE_ID,…`: the account's template id for each tailguard template."""
    reminder_days: tuple[int, ...] = (3,)
    """Days before each due date a reminder is queued (TAILGUARD_REMINDER_DAYS=7,1)."""
    reminder_channels: str = "sms,in-app"
    """Channels of reminders for borrowers who chose none."""
    message_rate_per_second: float = 20.0
    """The most messages per second each channel adapter is handed."""
    # -- web: the payment gateway's callback signing key (docs/web.md)
    gateway_secret: str = DEVELOPMENT_GATEWAY_SECRET
    """HMAC-SHA256 key the payment gateway signs its callbacks with (TAILGUARD_GATEWAY_SECRET)."""
    # -- origination: third-party data and the application model (docs/origination.md)
    credit_bureau: str = "sandbox"
    """`sandbox` (answers per ID number) or the bureau service's https URL."""
    credit_bureau_key: str | None = None
    verification: str = "sandbox"
    """`sandbox` or the https URL of the data-service aggregator that verifies identity, bank
    cards, court records and income (infra/verification_http.py)."""
    verification_key: str | None = None
    application_model: str | None = None
    """A model directory of `tailguard risk train` that scores applications; none: refer."""

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
        if self.gateway_secret == DEVELOPMENT_GATEWAY_SECRET:
            problems.append("TAILGUARD_GATEWAY_SECRET is the development secret")
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
        contact_profile=env.get("TAILGUARD_CONTACT_PROFILE", "cn-consumer-auto"),
        smtp_host=env.get("TAILGUARD_SMTP_HOST", "127.0.0.1"),
        smtp_port=int(env.get("TAILGUARD_SMTP_PORT", "25")),
        smtp_from=env.get("TAILGUARD_SMTP_FROM", "tailguard@localhost"),
        smtp_starttls=env.get("TAILGUARD_SMTP_STARTTLS", "") in ("1", "true", "yes"),
        smtp_username=env.get("TAILGUARD_SMTP_USERNAME") or None,
        smtp_password=env.get("TAILGUARD_SMTP_PASSWORD") or None,
        sms_gateway=env.get("TAILGUARD_SMS_GATEWAY", "sandbox"),
        sms_api_key=env.get("TAILGUARD_SMS_API_KEY") or None,
        wechat=env.get("TAILGUARD_WECHAT", "sandbox"),
        wechat_templates=env.get("TAILGUARD_WECHAT_TEMPLATES", ""),
        reminder_days=tuple(sorted({int(d) for d in env.get("TAILGUARD_REMINDER_DAYS", "3")
                                    .split(",") if d.strip()}, reverse=True)),
        reminder_channels=env.get("TAILGUARD_REMINDER_CHANNELS", "sms,in-app"),
        message_rate_per_second=float(env.get("TAILGUARD_MESSAGE_RATE", "20")),
        gateway_secret=env.get("TAILGUARD_GATEWAY_SECRET", DEVELOPMENT_GATEWAY_SECRET),
        credit_bureau=env.get("TAILGUARD_CREDIT_BUREAU", "sandbox"),
        credit_bureau_key=env.get("TAILGUARD_CREDIT_BUREAU_KEY") or None,
        verification=env.get("TAILGUARD_VERIFICATION", "sandbox"),
        verification_key=env.get("TAILGUARD_VERIFICATION_KEY") or None,
        application_model=env.get("TAILGUARD_APPLICATION_MODEL") or None,
    )
