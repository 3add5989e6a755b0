"""Templates in both languages, the provider adapters' HTTP requests (httpx.MockTransport),
the SMTP message as built, backoff and the token bucket."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from tailguard.engagement.channels import DeliveryError, OutboundMessage, TokenBucket, backoff
from tailguard.engagement.templates import TEMPLATES, render
from tailguard.engagement.vocabulary import Channel
from tailguard.errors import InvalidInput
from tailguard.infra.channels import SandboxChannel, SmtpEmailChannel, channels_from_settings
from tailguard.infra.channels_http import HttpSmsChannel, WeChatTemplateChannel
from tailguard.infra.settings import load_settings

CONTEXT = {"lender": "天衢汽车金融", "loan_id": "L00001", "as_of": "2026-02-07",
           "due_date": "2026-02-10", "days": 3, "installment": 1, "amount": "4417.73",
           "dpd": 7, "overdue": "4500.00", "penalty": "82.27", "balloon": "60000.00",
           "balloon_date": "2029-01-10"}


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_template_renders_in_both_languages(template: str, language: str) -> None:
    message = render(template, language, CONTEXT)
    assert "L00001" in message.body and "天衢汽车金融" in message.body
    assert "\n" not in message.subject and len(message.subject) <= 200
    assert ("尊敬的客户" in message.body) is (language == "zh")


@pytest.mark.parametrize(("template", "language", "expected"), [
    ("due-reminder", "zh", "第 1 期将于 2026-02-10（3 天后）到期，应还金额 4417.73 元"),
    ("due-reminder", "en", "is due on 2026-02-10 (in 3 days): 4417.73 yuan"),
    ("overdue-notice", "zh", "已逾期 7 天，截至 2026-02-07 逾期应还 4500.00 元（含罚息 82.27 元）"),
    ("overdue-notice", "en", "is 7 days overdue"),
    ("balloon-approaching", "zh", "尾款 60000.00 元将于 2029-01-10（3 天后）到期"),
    ("balloon-approaching", "en", "60000.00 yuan, is due on 2029-01-10 (in 3 days)"),
])
def test_template_wording(template: str, language: str, expected: str) -> None:
    assert expected in render(template, language, CONTEXT).body


def test_singular_day_and_missing_variables() -> None:
    assert "(in 1 day)" in render("due-reminder", "en", {**CONTEXT, "days": 1}).body
    with pytest.raises(InvalidInput) as caught:
        render("due-reminder", "zh", {"lender": "x"})
    assert caught.value.errors[0].field == "params"
    with pytest.raises(InvalidInput) as caught:
        render("due-reminder", "fr", CONTEXT)
    assert caught.value.errors[0].field == "language"


MESSAGE = OutboundMessage(42, Channel.SMS, "+8613800138000", "due-reminder", "zh",
                          "还款提醒", "您的贷款将于 2026-02-10 到期", {"amount": "4417.73"})


def test_sms_gateway_request_and_answers() -> None:
    seen: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"message_id": "sms-9001"})

    channel = HttpSmsChannel("https://sms.example.cn/v1/messages", "k3y",
                             sign_name="天衢汽车金融",
                             client=httpx.Client(transport=httpx.MockTransport(provider)))
    assert channel.send(MESSAGE) == "sms-9001"
    request = seen[0]
    assert request.method == "POST" and str(request.url) == "https://sms.example.cn/v1/messages"
    assert request.headers["Authorization"] == "Bearer k3y"
    assert request.headers["Idempotency-Key"] == "tailguard-message-42"
    assert json.loads(request.content) == {
        "to": "+8613800138000", "sign_name": "天衢汽车金融", "template": "due-reminder",
        "params": {"amount": "4417.73"}, "text": "您的贷款将于 2026-02-10 到期",
        "client_reference": "42"}
    for status, retryable in ((503, True), (429, True), (400, False), (401, False)):
        failing = HttpSmsChannel("https://sms.example.cn/v1/messages", "k3y", sign_name="x",
                                 client=httpx.Client(transport=httpx.MockTransport(
                                     lambda _r, s=status: httpx.Response(s))))
        with pytest.raises(DeliveryError) as caught:
            failing.send(MESSAGE)
        assert caught.value.retryable is retryable, status

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route", request=request)

    down = HttpSmsChannel("https://sms.example.cn/v1/messages", "k", sign_name="x",
                          client=httpx.Client(transport=httpx.MockTransport(unreachable)))
    with pytest.raises(DeliveryError) as caught:
        down.send(MESSAGE)
    assert caught.value.retryable


def test_wechat_template_message_with_token_refresh() -> None:
    calls: list[httpx.Request] = []
    tokens = iter(["TOKEN-1", "TOKEN-2"])
    answers = iter([{"errcode": 42001, "errmsg": "access_token expired"},
                    {"errcode": 0, "errmsg": "ok", "msgid": 200228332}])

    def wechat(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if request.url.path == "/cgi-bin/token":
            return httpx.Response(200, json={"access_token": next(tokens), "expires_in": 7200})
        return httpx.Response(200, json=next(answers))

    channel = WeChatTemplateChannel(
        "wx-app", "s3cret", {"due-reminder": "TPL-DUE"},
        client=httpx.Client(transport=httpx.MockTransport(wechat)), monotonic=lambda: 100.0)
    message = OutboundMessage(7, Channel.WECHAT, "oOPENID", "due-reminder", "zh", "还款提醒",
                              "body", {"keyword1": "4417.73"})
    assert channel.send(message) == "200228332"
    token, first, token_again, second = calls
    assert token.url.params["appid"] == "wx-app" and token.url.params["secret"] == "s3cret"
    assert token.url.params["grant_type"] == "client_credential"
    assert first.url.path == "/cgi-bin/message/template/send"
    assert first.url.params["access_token"] == "TOKEN-1"
    assert second.url.params["access_token"] == "TOKEN-2"
    assert json.loads(second.content) == {
        "touser": "oOPENID", "template_id": "TPL-DUE", "client_msg_id": "tailguard-7",
        "data": {"first": {"value": "还款提醒"}, "keyword1": {"value": "4417.73"}}}
    assert token_again.url.path == "/cgi-bin/token"


def test_wechat_final_errors_are_not_retried() -> None:
    def wechat(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cgi-bin/token":
            return httpx.Response(200, json={"access_token": "T", "expires_in": 7200})
        return httpx.Response(200, json={"errcode": 43004, "errmsg": "require subscribe"})

    channel = WeChatTemplateChannel("a", "s", {"due-reminder": "X"},
                                    client=httpx.Client(transport=httpx.MockTransport(wechat)))
    message = OutboundMessage(1, Channel.WECHAT, "o", "due-reminder", "zh", "s", "b")
    with pytest.raises(DeliveryError) as caught:
        channel.send(message)
    assert not caught.value.retryable
    with pytest.raises(DeliveryError) as caught:
        channel.send(OutboundMessage(1, Channel.WECHAT, "o", "overdue-notice", "zh", "s", "b"))
    assert not caught.value.retryable  # no template id configured


def test_smtp_message_is_utf8_with_an_encoded_subject() -> None:
    email = SmtpEmailChannel("127.0.0.1", 1, "noreply@tailguard.test", sender_name="天衢")
    built = email.build(OutboundMessage(3, Channel.EMAIL, "a@example.cn", "due-reminder", "zh",
                                        "还款提醒", "应还金额 4417.73 元"))
    wire = built.as_bytes()
    assert b"=?utf-8?" in wire.split(b"\n\n", 1)[0]  # RFC 2047 header, no raw UTF-8
    assert built.get_content().strip() == "应还金额 4417.73 元"
    assert built["Content-Language"] == "zh-CN"


def test_smtp_unreachable_is_retryable() -> None:
    email = SmtpEmailChannel("127.0.0.1", 9, "noreply@tailguard.test", timeout=1.0)
    with pytest.raises(DeliveryError) as caught:
        email.send(OutboundMessage(3, Channel.EMAIL, "a@example.cn", "due-reminder", "zh",
                                   "s", "b"))
    assert caught.value.retryable


def test_sandbox_and_factory() -> None:
    sandbox = SandboxChannel(Channel.SMS, fail_next=1)
    with pytest.raises(DeliveryError):
        sandbox.send(MESSAGE)
    assert sandbox.send(MESSAGE) == "sandbox-sms-42" and sandbox.sent == [MESSAGE]
    channels = channels_from_settings(load_settings({}))
    assert isinstance(channels[Channel.EMAIL], SmtpEmailChannel)
    assert isinstance(channels[Channel.SMS], SandboxChannel)
    real = channels_from_settings(load_settings({
        "TAILGUARD_SMS_GATEWAY": "https://sms.example.cn/send",
        "TAILGUARD_WECHAT": "wxid:secret",
        "TAILGUARD_WECHAT_TEMPLATES": "due-reminder=T1,overdue-notice=T2"}))
    assert isinstance(real[Channel.SMS], HttpSmsChannel)
    wechat = real[Channel.WECHAT]
    assert isinstance(wechat, WeChatTemplateChannel)
    assert wechat.template_ids == {"due-reminder": "T1", "overdue-notice": "T2"}


def test_backoff_and_token_bucket() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 4, 16, 64)]
    assert backoff(10) == timedelta(hours=2)
    bucket = TokenBucket(rate=2.0, burst=3.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.5) and not bucket.take(0.5)
    assert [bucket.take(10.0) for _ in range(4)] == [True, True, True, False]
