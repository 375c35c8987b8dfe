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

# Contact ids written after a messaging-app label. Chinese labels may touch the id ("微信zx88");
# Latin labels must stand as words ("routewatch" and "forwarded" are not WhatsApp labels) and the id
# must look like one (a digit or an underscore in it), so "line up" or "tg channel" stay.
_CJK_LABEL = r"(?:微信号|微信|威信|薇信|电报号|电报|飞机号|加V|加v)"
_ASCII_LABEL = r"(?<![A-Za-z0-9])(?:VX|vx|Vx|WX|wx|wechat|WeChat|Wechat|whatsapp|WhatsApp|Whatsapp|WA|telegram|Telegram|TG|tg|LINE|Line|line|QQ|qq)(?![A-Za-z])"
_ID = r"\+?[A-Za-z0-9][A-Za-z0-9_.\-]{3,30}"
_APP_ID = re.compile(
    rf"({_CJK_LABEL}|{_ASCII_LABEL})(\s*(?:id|ID|号)?\s*[:：=]?\s*)({_ID})"
)
# Phone numbers: 7+ digits with optional separators; ASCII-only look-arounds so a number glued to
# Chinese text ("打138-0013-8000找") is still found.
_PHONE = re.compile(r"(?<![0-9A-Za-z/_.])\+?\d[\d\s().\-]{5,}\d(?![0-9A-Za-z/_])")
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_][A-Za-z0-9_.]{2,31}")
_QR = re.compile(r"(?i)(?:https?://)?(?:u\.wechat\.com|weixin\.qq\.com|wa\.me|t\.me/\+|line\.me/ti)/[A-Za-z0-9_\-./?=&%+~#]+")
_DATE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:[.,\s]\d{3})+$")


def _digits(s: str) -> int:
    return sum(c.isdigit() for c in s)


def _looks_like_phone(m: re.Match[str]) -> bool:
    t = m.group(0).strip()
    if _digits(t) < 7 or _DATE.match(t) or _THOUSANDS.match(t):
        return False  # dates, versions and amounts written with thousands separators
    bare = re.sub(r"\D", "", t)
    if t.startswith("+") or len(bare) >= 10:
        return True
    if re.fullmatch(r"1[3-9]\d{9}", bare):
        return True  # Chinese mobile
    # local numbers written in groups (55 1234 5678, 1234-5678): several separated groups
    return len(re.findall(r"\d+", t)) >= 2 and len(bare) >= 7


def _id_like(m: re.Match[str]) -> bool:
    label, ident = m.group(1), m.group(3)
    if re.match(_CJK_LABEL, label):
        return True
    return bool(re.search(r"[\d_]", ident)) or bool(re.search(r"[:：=]", m.group(2)))


def redact_text(text: str) -> str:
    if not text:
        return text
    text = _QR.sub("[link removed]", text)
    text = _APP_ID.sub(lambda m: f"{m.group(1)}{m.group(2)}[id removed]" if _id_like(m) else m.group(0), text)
    text = _PHONE.sub(lambda m: "[phone removed]" if _looks_like_phone(m) else m.group(0), text)
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
    # "@name" and "name" are the same account
    digest = hmac.new(key, handle.strip().lstrip("@").lower().encode(), hashlib.sha256).hexdigest()[:10]
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


def post_accounts(author: str, forwarded_from: str, platform: str, platform_id: str) -> set[str]:
    """The accounts a post names: its author, the channel it was forwarded from and, for Telegram,
    the channel that published it (the first part of its `channel/message` id)."""
    channel = platform_id.split("/", 1)[0] if platform == "telegram" and "/" in platform_id else ""
    return {h for h in (author, forwarded_from, channel) if h}
