"""Strategies for the two formats /openapi.json names whose every check a
pattern cannot state, so schemathesis generates values the server must
accept: `unified-social-credit-code` (GB 32100-2015: the pattern states all
but the check character, computed here as the core computes it) and
`record-id` (1-128 bytes of UTF-8 without control characters: the pattern
states the characters, not the length in bytes).
Loaded by crates/cli/tests/serve.rs through SCHEMATHESIS_HOOKS."""

import schemathesis
from hypothesis import strategies as st

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
FIRST_17 = (
    r"(1[1239]|2[19]|3[1-59]|4[19]|5[1239]|6[129]|7[129]|8[19]|9[1-3]|A[19]|N[1239]|Y1)"
    r"(10|1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|8[12])[0-9]{4}[0-9A-HJ-NPQRTUWXY]{9}"
)


def complete(first17: str) -> str:
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS))
    return first17 + ALPHABET[(31 - total % 31) % 31]


def is_record_id(text: str) -> bool:
    return 1 <= len(text.encode("utf-8")) <= 128 and not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


CONTROL = ("Cc", "Cs")
schemathesis.openapi.format("unified-social-credit-code", st.from_regex(FIRST_17, fullmatch=True).map(complete))
schemathesis.openapi.format(
    "record-id",
    st.text(alphabet=st.characters(exclude_categories=CONTROL), min_size=1, max_size=128).filter(is_record_id),
)
