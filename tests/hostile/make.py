#!/usr/bin/env python3
"""Writes the hostile-input corpus: records.jsonl (one case per line, some
cases two lines) and expected.tsv (per line: the case, what recompute and the
pipeline must make of it, and why); each line is also written as a seed of the
record decoder's fuzzer. Run from anywhere; the output is committed,
this script is how it was made and how to change it.

Registry: tests/golden/entities.json and centers.json. The expected outcome is
a reason code, or `eligible` for a line that stands and earns subsidy.
"""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def credit_code(first17):
    """GB 32100-2015: the 18th character is the check character of the first 17."""
    total = sum(CHARS.index(c) * w for c, w in zip(first17, WEIGHTS))
    return first17 + CHARS[(31 - total % 31) % 31]


HEFEI_FIRM = "91340100MA0000001K"  # registered, 合肥, enterprise
UNREGISTERED = credit_code("91340100MA0000777")  # well-formed, in no registry


def base(i, **changes):
    rec = {
        "record_id": f"h{i:03d}", "revision": 1, "user_credit_code": HEFEI_FIRM,
        "center_id": "C1", "accelerator": "Ascend-910B", "cards": 8, "card_hours": "10",
        "usage_start": "2025-09-01T08:00:00+08:00", "usage_end": "2025-09-01T18:00:00+08:00",
        "updated_at": "2025-09-02T00:00:00+08:00", "unit_price": "10", "amount": "1000.00",
        "paid_amount": "1000.00", "payment_status": "paid", "currency": "CNY",
    }
    rec.update(changes)
    return rec


def text(rec):
    return json.dumps(rec, ensure_ascii=False)


def swap(rec, key, raw):
    """The record's JSON with one value replaced by raw JSON text (for what json.dumps cannot write)."""
    marker = "\u0000MARK\u0000"
    return text({**rec, key: marker}).replace(json.dumps(marker), raw)


CASES = []


def case(name, expect, why, *lines):
    CASES.append((name, expect, why, [l if isinstance(l, bytes) else l.encode() for l in lines]))


n = iter(range(1, 1000))
i = next(n); case("baseline", ["eligible"], "a good record: the control", text(base(i)))
i = next(n); case("amount-as-number", ["invalid_field"], "money must be a decimal string", swap(base(i), "amount", "1000.00"))
i = next(n); case("cards-as-string", ["invalid_field"], "cards is an integer", text(base(i, cards="8")))
i = next(n); case("revision-negative", ["invalid_field"], "revisions start at 1", text(base(i, revision=-1)))
i = next(n); case("revision-zero", ["invalid_field"], "revisions start at 1", text(base(i, revision=0)))
i = next(n); case("revision-as-string", ["invalid_field"], "revision is an integer", text(base(i, revision="2")))
i = next(n); case("revision-too-large", ["invalid_field"], "above 2^31-1, a version cannot order it", text(base(i, revision=2**31)))
i = next(n); case("cards-huge", ["invalid_field"], "a 31-digit integer", swap(base(i), "cards", "1000000000000000000000000000000"))
i = next(n); case("cards-float", ["invalid_field"], "8.0 is not an integer on the wire", swap(base(i), "cards", "8.0"))
i = next(n); case("cards-exponent", ["invalid_field"], "8e0 is a float on the wire", swap(base(i), "cards", "8e0"))
i = next(n); case("cards-zero", ["invalid_field"], "a job uses at least one card", text(base(i, cards=0)))
i = next(n); case("amount-huge", ["invalid_amount"], "beyond what Decimal(18,4) holds", text(base(i, amount="99999999999999999999999999.00", paid_amount="1.00")))
i = next(n); case("amount-negative", ["invalid_amount"], "money is never negative", text(base(i, amount="-1000.00", paid_amount="-1000.00")))
i = next(n); case("amount-over-precise", ["invalid_amount"], "fen are the smallest unit", text(base(i, amount="1000.001", paid_amount="1000.001")))
i = next(n); case("amount-exponent", ["invalid_amount"], "1e3 is not a plain decimal", text(base(i, amount="1e3", paid_amount="1e3")))
i = next(n); case("amount-plus-sign", ["invalid_amount"], "+1000.00 is not a plain decimal", text(base(i, amount="+1000.00")))
i = next(n); case("amount-padded", ["invalid_amount"], "no spaces inside a decimal string", text(base(i, amount=" 1000.00")))
i = next(n); case("amount-full-width-digits", ["invalid_amount"], "full-width digits are not ASCII digits", text(base(i, amount="１０００.00")))
i = next(n); case("amount-nan-string", ["invalid_amount"], "NaN is not money", text(base(i, amount="NaN")))
i = next(n); case("paid-infinity-string", ["invalid_amount"], "Infinity is not money", text(base(i, paid_amount="Infinity")))
i = next(n); case("amount-bare-nan", ["malformed"], "NaN is not JSON", swap(base(i), "amount", "NaN"))
i = next(n); case("paid-bare-infinity", ["malformed"], "Infinity is not JSON", swap(base(i), "paid_amount", "Infinity"))
i = next(n); case("paid-exceeds-amount", ["invalid_amount"], "cannot pay more than billed", text(base(i, paid_amount="1000.01")))
i = next(n); case("unit-price-exponent", ["invalid_amount"], "informational, but still a plain decimal", text(base(i, unit_price="1e1")))
i = next(n); case("card-hours-negative", ["invalid_field"], "hours are never negative", text(base(i, card_hours="-5")))
i = next(n); case("credit-code-check-character", ["invalid_credit_code"], "last character does not match", text(base(i, user_credit_code=HEFEI_FIRM[:-1] + "L")))
i = next(n); case("credit-code-zeros", ["invalid_credit_code"], "no registration authority 0", text(base(i, user_credit_code="000000000000000000")))
i = next(n); case("credit-code-short", ["invalid_credit_code"], "17 characters", text(base(i, user_credit_code=HEFEI_FIRM[:-1])))
i = next(n); case("credit-code-letter-I", ["invalid_credit_code"], "I, O, S, V, Z are not in the alphabet", text(base(i, user_credit_code="9134010OMA0000001K")))
i = next(n); case("date-february-30", ["invalid_field"], "no such day", text(base(i, usage_start="2025-02-30T08:00:00+08:00")))
i = next(n); case("date-without-offset", ["invalid_field"], "a time without an offset names no instant", text(base(i, usage_end="2025-09-01T18:00:00")))
i = next(n); case("date-offset-25-hours", ["invalid_field"], "offsets stop short of 24 hours", text(base(i, usage_end="2025-09-01T18:00:00+25:00")))
i = next(n); case("date-unix-seconds", ["invalid_field"], "a number where a time belongs", swap(base(i), "usage_end", "1756720800"))
i = next(n); case("date-words", ["invalid_field"], "not RFC 3339", text(base(i, updated_at="yesterday")))
i = next(n); case("leap-second-real", ["eligible"], "2016-12-31T23:59:60Z was a leap second: a valid instant", text(base(i, usage_start="2016-12-31T23:59:60Z")))
i = next(n); case("leap-second-at-month-end", ["eligible"], "a leap second in the last second of a month counts for that month", text(base(i, usage_start="2025-09-30T23:00:00+08:00", usage_end="2025-09-30T23:59:60+08:00")))
i = next(n); case("end-before-start", ["invalid_time_range"], "usage ends before it starts", text(base(i, usage_end="2025-09-01T07:59:59+08:00")))
i = next(n); case("currency-usd", ["unsupported_currency"], "the subsidy is in yuan", text(base(i, currency="USD")))
i = next(n); case("currency-lowercase", ["unsupported_currency"], "codes are exact", text(base(i, currency="cny")))
i = next(n); case("status-unknown", ["invalid_field"], "paid, unpaid or refunded", text(base(i, payment_status="pending")))
i = next(n); case("unknown-center", ["unknown_center"], "held until the center registers", text(base(i, center_id="C-NOWHERE")))
i = next(n); case("unknown-entity", ["unknown_entity"], "held until the entity registers", text(base(i, user_credit_code=UNREGISTERED)))
i = next(n); case("record-id-empty", ["invalid_field"], "an id names the record", text(base(i, record_id="")))
i = next(n); case("record-id-long", ["invalid_field"], "ids are at most 128 bytes", text(base(i, record_id="h" * 200)))
i = next(n); case("record-id-control", ["invalid_field"], "no control characters in ids", text(base(i, record_id="h\u0001x")))
i = next(n); case("record-id-lone-surrogate", ["malformed"], "an escape naming half a character", swap(base(i), "record_id", '"h\\ud800"'))
i = next(n); case("oversized-line", ["oversized"], "70,000 bytes of padding in an unknown field", text(base(i, note="x" * 70_000)))
i = next(n); case("invalid-utf8", ["malformed"], "byte 0xFF inside a string", text(base(i, accelerator="Ascend-\u0000")).replace("\\u0000", "\udcff").encode("utf-8", "surrogateescape"))
i = next(n); case("byte-order-mark", ["malformed"], "a BOM before the object", "\ufeff" + text(base(i)))
i = next(n); case("raw-nul-in-string", ["malformed"], "control characters must be escaped in JSON", text(base(i)).replace("Ascend-910B", "Ascend\u0000910B"))
i = next(n); case("duplicate-key", ["invalid_field"], "amount given twice: which one was meant?", text(base(i)).replace('"amount": "1000.00"', '"amount": "1000.00", "amount": "9000.00"'))
i = next(n); case("deeply-nested-amount", ["malformed"], "amount is 200 nested arrays, beyond the parser's depth limit of 128", swap(base(i), "amount", "[" * 200 + "]" * 200))
i = next(n); case("deeply-nested-unknown-field", ["eligible"], "30,000 nested arrays in a field the record does not have: skipped without recursion, as every unknown field is", swap(base(i), "extra", "[" * 30_000 + "]" * 30_000))
i = next(n); case("top-level-array", ["malformed"], "a record is an object", json.dumps([base(i)]))
i = next(n); case("json-string", ["malformed"], "a string, not an object", json.dumps(text(base(i))))
i = next(n); case("json-null", ["malformed"], "null, not an object", "null")
i = next(n); case("empty-object", ["missing_field"], "no fields at all", "{}")
i = next(n); case("null-field", ["missing_field"], "center_id is null", text(base(i, center_id=None)))
i = next(n); case("trailing-garbage", ["malformed"], "text after the object", text(base(i)) + " x")
i = next(n); case("truncated", ["malformed"], "the line stops mid-object", text(base(i))[:120])
i = next(n); case("leading-zero", ["malformed"], "08 is not a JSON number", swap(base(i), "cards", "08"))
i = next(n)
case("same-revision-conflict", ["revision_conflict", "revision_conflict"], "two copies of one revision that differ in amount",
     text(base(i)), text(base(i, amount="2000.00", paid_amount="2000.00")))
i = next(n)
case("exact-duplicate", ["eligible", "duplicate"], "the same copy twice", text(base(i)), text(base(i)))
i = next(n)
case("older-revision-after-newer", ["eligible", "superseded"], "revision 1 arrives after revision 2",
     text(base(i, revision=2, amount="1500.00", paid_amount="1500.00")), text(base(i)))
# Values a ledger store cannot hold: refused when decoded, so they never reach a store.
i = next(n); case("usage-end-1960", ["out_of_range"], "before 1970, the first day a ledger holds", text(base(i, usage_start="1960-01-01T08:00:00+08:00", usage_end="1960-01-01T18:00:00+08:00")))
i = next(n); case("usage-end-2200", ["out_of_range"], "after 2105, the last year a ledger holds", text(base(i, usage_end="2200-01-01T00:00:00+08:00")))
i = next(n); case("usage-end-9999", ["out_of_range"], "the year 9999", text(base(i, usage_end="9999-12-31T23:59:59+08:00")))
i = next(n); case("usage-start-1969", ["out_of_range"], "one second before 1970-01-01T00:00:00Z", text(base(i, usage_start="1969-12-31T23:59:59Z")))
i = next(n); case("usage-end-last-second", ["outside_policy_window"], "2105-12-31T23:59:59+08:00 is the last instant a ledger holds: kept, under no policy version", text(base(i, usage_end="2105-12-31T23:59:59+08:00")))
i = next(n); case("amount-beyond-ledger", ["invalid_amount"], "one fen more than the 10^12 yuan a ledger holds for one record", text(base(i, amount="1000000000000.01", paid_amount="1.00")))
i = next(n); case("paid-beyond-ledger", ["invalid_amount"], "a 14-digit paid amount", text(base(i, amount="1000.00", paid_amount="10000000000000.00")))


def main():
    records, expected = [], ["line\tcase\texpect\twhy"]
    for name, expect, why, lines in CASES:
        assert len(expect) == len(lines), name
        for outcome, line in zip(expect, lines):
            assert b"\n" not in line and b"\r" not in line, name
            records.append(line)
            expected.append(f"{len(records)}\t{name}\t{outcome}\t{why}")
    (HERE / "records.jsonl").write_bytes(b"\n".join(records) + b"\n")
    # Each line is also a seed of the record decoder's fuzzer (fuzz/seeds/record_decoder).
    seeds = HERE.parent.parent / "fuzz" / "seeds" / "record_decoder"
    for old in seeds.glob("hostile-*"):
        old.unlink()
    for number, line in enumerate(records, 1):
        name = expected[number].split("\t")[1]
        (seeds / f"hostile-{number:02d}-{name}.json").write_bytes(line)
    (HERE / "expected.tsv").write_text("\n".join(expected) + "\n", encoding="utf-8")
    print(f"{len(CASES)} cases, {len(records)} lines")


if __name__ == "__main__":
    main()
