"""Privacy by default (SPEC §1): keyed pseudonyms for handles, redaction of contact details.

In: text or a handle about to be shown or exported.  Out: the same with phone numbers, WeChat /
WhatsApp / Telegram / LINE ids and QR-code links replaced, or a stable keyed pseudonym.
Never logs or stores the raw values it removes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

# Contact ids written after a messaging-app label: 微信/VX/WeChat/wx/WhatsApp/WA/Telegram/TG/LINE/QQ.
_APP_ID = re.compile(
    r"(?i)(微信号?|威信|薇信|[Vv][Xx]|[Ww][Xx]|wechat|whats\s?app|wa|telegram|tg|line|qq|电报|飞机)"
    r"(\s*(?:id|ID|号)?\s*[:：=]?\s*)"
    r"(\+?[A-Za-z0-9][A-Za-z0-9_.\-]{3,30})"
)
# Phone numbers: international or long digit groups (7+ digits overall).
_PHONE = re.compile(r"(?<![\w/])\+?\d[\d\s().\-]{6,}\d(?![\w/])")
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_][A-Za-z0-9_.]{2,31}")
_QR = re.compile(r"(?i)\b(?:https?://)?(?:u\.wechat\.com|weixin\.qq\.com|wa\.me|t\.me/\+|line\.me/ti)/\S+")


def _digits(s: str) -> int:
    return sum(c.isdigit() for c in s)


def redact_text(text: str) -> str:
    if not text:
        return text
    text = _QR.sub("[link removed]", text)
    text = _APP_ID.sub(lambda m: f"{m.group(1)}{m.group(2)}[id removed]", text)
    text = _PHONE.sub(lambda m: "[phone removed]" if _digits(m.group(0)) >= 7 else m.group(0), text)
    text = _HANDLE.sub("@[user]", text)
    return text


def install_secret(data_dir: Path) -> bytes:
    """The per-install key for pseudonyms, created on first use (0600)."""
    p = Path(data_dir) / ".pseudonym.key"
    if p.exists():
        return p.read_bytes()
    p.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(str(p), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


def pseudonym(handle: str, key: bytes) -> str:
    if not handle:
        return ""
    digest = hmac.new(key, handle.strip().lower().encode(), hashlib.sha256).hexdigest()[:10]
    return f"user-{digest}"


def redact_obj(obj: object, handles: tuple[str, ...] = (), key: bytes | None = None) -> object:
    """Redact every string inside a JSON-like value; known handles become their pseudonyms."""
    if isinstance(obj, str):
        for h in handles:
            if h and key is not None:
                obj = obj.replace(h, pseudonym(h, key))
        return redact_text(obj)
    if isinstance(obj, list):
        return [redact_obj(x, handles, key) for x in obj]
    if isinstance(obj, dict):
        return {k: redact_obj(v, handles, key) for k, v in obj.items()}
    return obj
