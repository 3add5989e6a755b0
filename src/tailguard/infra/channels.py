"""Notification channel adapters: e-mail over SMTP and the sandboxes; the factory that picks
them from the settings.

The SMS and WeChat provider adapters speak HTTP with httpx and live in
`infra/channels_http.py`; they are imported only when a real provider is configured, so a
deployment on the sandboxes does not need httpx.
"""

from __future__ import annotations

import smtplib
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from tailguard.engagement.channels import DeliveryError, MessageChannel, OutboundMessage
from tailguard.engagement.vocabulary import Channel
from tailguard.infra.settings import Settings, SettingsError


class SmtpEmailChannel:
    """E-mail over SMTP with smtplib: UTF-8 subject (RFC 2047) and body, optional STARTTLS and
    login. A refused recipient is final; a connection or server failure is retried."""

    channel = Channel.EMAIL

    def __init__(self, host: str, port: int, sender: str, *, sender_name: str | None = None,
                 starttls: bool = False, username: str | None = None,
                 password: str | None = None, timeout: float = 10.0) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.sender_name = sender_name
        self.starttls, self.username, self.password = starttls, username, password
        self.timeout = timeout

    def build(self, message: OutboundMessage) -> EmailMessage:
        email = EmailMessage()
        email["Subject"] = message.subject
        local, _, domain = self.sender.partition("@")
        email["From"] = Address(self.sender_name or "", local, domain or "localhost")
        email["To"] = message.to
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = make_msgid(f"tailguard.{message.message_id}",
                                         domain=domain or "localhost")
        email.set_content(message.body, charset="utf-8")  # replaces any Content-* header
        email["Content-Language"] = "zh-CN" if message.language == "zh" else "en"
        return email

    def send(self, message: OutboundMessage) -> str:
        email = self.build(message)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc.recipients}", retryable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {exc}") from exc
        return str(email["Message-ID"])


class SandboxChannel:
    """Records messages instead of sending them, deterministically (the provider id is the
    message id); `fail_next` makes the next N sends fail, to exercise retries."""

    def __init__(self, channel: Channel, fail_next: int = 0) -> None:
        self.channel = channel
        self.sent: list[OutboundMessage] = []
        self.fail_next = fail_next

    def send(self, message: OutboundMessage) -> str:
        if message.channel is not self.channel:
            raise DeliveryError(f"a {message.channel} message on the {self.channel} sandbox",
                                retryable=False)
        if self.fail_next > 0:
            self.fail_next -= 1
            raise DeliveryError(f"sandbox {self.channel}: simulated provider failure")
        self.sent.append(message)
        return f"sandbox-{self.channel.value}-{message.message_id}"


def _template_ids(text: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if any(len(p) != 2 for p in pairs):
        raise SettingsError("TAILGUARD_WECHAT_TEMPLATES is template=ID, comma-separated")
    return {name.strip(): value.strip() for name, value in pairs}


def channels_from_settings(settings: Settings) -> dict[Channel, MessageChannel]:
    """The adapters the settings choose. In-app messages need no adapter: the notification
    service writes them to the inbox table in its own transaction."""
    channels: dict[Channel, MessageChannel] = {}
    if settings.smtp_host == "sandbox":
        channels[Channel.EMAIL] = SandboxChannel(Channel.EMAIL)
    else:
        channels[Channel.EMAIL] = SmtpEmailChannel(
            settings.smtp_host, settings.smtp_port, settings.smtp_from,
            sender_name=settings.lender_name, starttls=settings.smtp_starttls,
            username=settings.smtp_username, password=settings.smtp_password)
    if settings.sms_gateway == "sandbox":
        channels[Channel.SMS] = SandboxChannel(Channel.SMS)
    else:
        from tailguard.infra.channels_http import HttpSmsChannel

        channels[Channel.SMS] = HttpSmsChannel(settings.sms_gateway, settings.sms_api_key or "",
                                               sign_name=settings.lender_name)
    if settings.wechat == "sandbox":
        channels[Channel.WECHAT] = SandboxChannel(Channel.WECHAT)
    else:
        from tailguard.infra.channels_http import WeChatTemplateChannel

        app_id, _, secret = settings.wechat.partition(":")
        if not secret:
            raise SettingsError("TAILGUARD_WECHAT is `sandbox` or APPID:SECRET")
        channels[Channel.WECHAT] = WeChatTemplateChannel(
            app_id, secret, _template_ids(settings.wechat_templates))
    return channels
