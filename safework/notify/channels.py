"""Sending one delivery over its channel; any failure is a `SendError` with a readable reason.

- e-mail: Django's mail (settings.MAILERS, SMTP in production), the delivery key as Message-ID,
  so a receiving system can drop a repeat.
- WeCom group robot and DingTalk robot: the robot URL the vendor gives (…/webhook/send?key=…,
  …/robot/send?access_token=…) posted with httpx; DingTalk's "additional signature" (加签) from
  the binding's secret: sign = base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")). A binding
  written as an apprise URL (`wecombot://…`, `dingtalk://…`) is sent through apprise instead.
- generic JSON webhook: the message as JSON with `X-SafeWork-Delivery` (the delivery key, the
  receiver's idempotency key), `X-SafeWork-Timestamp` and `X-SafeWork-Signature: sha256=<hex>`
  = HMAC-SHA256(secret, f"{timestamp}.{body}").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse

import httpx
from django.conf import settings
from django.core.mail import EmailMessage

from safework.notify.models import ChannelKind, Delivery


class SendError(Exception):
    pass


_lock = threading.Lock()
_local = threading.local()
_open: list[httpx.Client] = []  # every thread's client of the current batch
_generation = 0


def _client() -> httpx.Client:
    # One client per sending thread: connections to the same robot or receiver are kept alive
    # across a batch instead of a TCP (and TLS) handshake per message, and no thread waits for
    # another's pool. `close_client` closes them all at the end of the batch.
    client = getattr(_local, "client", None)
    if client is None or _local.generation != _generation:
        client = httpx.Client(timeout=settings.NOTIFY_HTTP_TIMEOUT)
        with _lock:
            _open.append(client)
            _local.client, _local.generation = client, _generation
    return client


def close_client() -> None:
    """Close every thread's client (at the end of a batch, when no request is in flight)."""
    global _generation
    with _lock:
        clients = list(_open)
        _open.clear()
        _generation += 1
    for client in clients:
        client.close()


def _post_json(url: str, body: bytes, headers: dict) -> httpx.Response:
    try:
        response = _client().post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise SendError(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code >= 300:
        raise SendError(f"HTTP {response.status_code}: {response.text[:200]}")
    return response


def _robot_answer(response: httpx.Response) -> None:
    # Both robots answer 200 with {"errcode": 0, …}; anything else names the problem (a wrong
    # key, a failed signature, a keyword the robot's security setting requires).
    try:
        answer = response.json()
    except ValueError:
        return
    if isinstance(answer, dict) and answer.get("errcode", 0) != 0:
        raise SendError(f"errcode {answer.get('errcode')}: {answer.get('errmsg', '')}")


def _markdown(d: Delivery) -> str:
    return f"### {d.title}\n\n{d.body}"


def send_email(d: Delivery) -> None:
    message = EmailMessage(
        subject=d.title,
        body=d.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[d.address],
        headers={"Message-ID": f"<{hashlib.sha256(d.key.encode()).hexdigest()}@safework>"},
    )
    try:
        message.send(using="default")
    except Exception as exc:  # smtplib errors, refused connection, timeouts
        raise SendError(f"{type(exc).__name__}: {exc}") from exc


def dingtalk_url(url: str, secret: str, *, now_ms: int | None = None) -> str:
    """The robot URL with DingTalk's timestamp and signature added (unchanged without secret)."""
    if not secret:
        return url
    ts = str(now_ms if now_ms is not None else int(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}timestamp={ts}&sign={sign}"


def send_robot(d: Delivery) -> None:
    if not d.address.startswith(("http://", "https://")):
        return send_apprise(d)
    if d.channel == ChannelKind.DINGTALK:
        payload = {"msgtype": "markdown", "markdown": {"title": d.title, "text": _markdown(d)}}
        url = dingtalk_url(d.address, d.secret)
    else:
        payload = {"msgtype": "markdown", "markdown": {"content": _markdown(d)}}
        url = d.address
    body = json.dumps(payload, ensure_ascii=False).encode()
    _robot_answer(_post_json(url, body, {"Content-Type": "application/json"}))
    return None


def send_apprise(d: Delivery) -> None:
    import apprise

    sender = apprise.Apprise()
    if not sender.add(d.address):
        raise SendError("apprise does not understand the binding's URL")
    if not sender.notify(body=d.body, title=d.title):
        raise SendError("apprise could not deliver (see the worker's log)")


def webhook_signature(secret: str, ts: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def send_webhook(d: Delivery) -> None:
    event = d.event
    body = json.dumps(
        {
            "delivery": d.key,
            "kind": event.kind,
            "title": d.title,
            "body": d.body,
            "url": d.url,
            "recipient": d.recipient_label,
            "relation": d.relation,
            "payload": event.payload,
        },
        ensure_ascii=False,
        sort_keys=True,
    ).encode()
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-SafeWork-Delivery": d.key,
        "X-SafeWork-Timestamp": ts,
    }
    if d.secret:
        headers["X-SafeWork-Signature"] = webhook_signature(d.secret, ts, body)
    _post_json(d.address, body, headers)


SENDERS = {
    ChannelKind.EMAIL: send_email,
    ChannelKind.WECOM: send_robot,
    ChannelKind.DINGTALK: send_robot,
    ChannelKind.WEBHOOK: send_webhook,
}


def send(d: Delivery) -> None:
    """Send `d` now; SendError when it did not go out."""
    sender = SENDERS.get(d.channel)
    if sender is None:
        raise SendError(f"no sender for channel {d.channel}")
    if not d.address:
        raise SendError("no address")
    sender(d)
