"""Masking likely personal data in text: on the wall and in exports (DESIGN.md section 6).

Conservative patterns for UK-centred movements: email addresses, phone numbers (UK and
international), NHS numbers (10 digits that pass the modulus-11 check, so arbitrary 10-digit
numbers are left alone), and UK postcodes. Masking is a display/export choice; the store keeps
what the author published.
"""

from __future__ import annotations

import re
from collections.abc import Callable

EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+(?![\w-])")
NHS_RE = re.compile(r"(?<!\d)(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?!\d)")
PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+44\s?\(?0?\)?\s?\d{2,4}|\(?0\d{2,4}\)?|\+\d{1,3}\s?\d{1,4})"
    r"(?:[\s-]?\d{2,4}){2,3}(?!\d)"
)
POSTCODE_RE = re.compile(
    r"\b(?:GIR ?0AA|[A-PR-UWYZ](?:\d[A-HJKPSTUW\d]?|[A-HK-Y]\d[ABEHMNPRVWXY\d]?)"
    r" ?\d[ABD-HJLNP-UW-Z]{2})\b",
    re.IGNORECASE,
)

MASKS = {"email": "[email]", "nhs": "[NHS number]", "phone": "[phone]", "postcode": "[postcode]"}


def nhs_number_valid(digits: str) -> bool:
    """The NHS number modulus-11 check digit rule."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - (total % 11)
    if check == 11:
        check = 0
    if check == 10:
        return False
    return check == int(digits[9])


def _nhs_sub(m: re.Match[str]) -> str:
    return MASKS["nhs"] if nhs_number_valid("".join(m.groups())) else m.group(0)


def mask_personal_data(text: str | None, kinds: tuple[str, ...] = tuple(MASKS)) -> str:
    """`text` with likely personal data replaced by a label such as `[phone]`."""
    if not text:
        return text or ""
    steps: list[tuple[str, Callable[[str], str]]] = [
        ("email", lambda s: EMAIL_RE.sub(MASKS["email"], s)),
        ("nhs", lambda s: NHS_RE.sub(_nhs_sub, s)),
        ("phone", lambda s: PHONE_RE.sub(MASKS["phone"], s)),
        ("postcode", lambda s: POSTCODE_RE.sub(MASKS["postcode"], s)),
    ]
    for kind, step in steps:
        if kind in kinds:
            text = step(text)
    return text
