//! The opaque page cursor: a stream position, masked and with a check so
//! that a cursor the simulator did not issue is refused rather than misread.

const MASK: u64 = 0x5AD1_C0DE_2025_0811;

fn check(pos: u64) -> u16 {
    // FNV-1a over the position's bytes, folded to 16 bits.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in pos.to_le_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h ^ (h >> 16) ^ (h >> 32) ^ (h >> 48)) as u16
}

/// The cursor for a stream position.
pub fn encode(pos: usize) -> String {
    let pos = pos as u64;
    format!("{:016x}{:04x}", pos ^ MASK, check(pos))
}

/// The stream position of a cursor, if the cursor is one the simulator issued.
pub fn decode(cursor: &str) -> Option<usize> {
    if cursor.len() != 20 || !cursor.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    let pos = u64::from_str_radix(&cursor[..16], 16).ok()? ^ MASK;
    let sum = u16::from_str_radix(&cursor[16..], 16).ok()?;
    if check(pos) != sum {
        return None;
    }
    usize::try_from(pos).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_forgeries() {
        for pos in [0usize, 1, 999, 1_000_000, usize::MAX >> 1] {
            assert_eq!(decode(&encode(pos)), Some(pos));
        }
        let c = encode(42);
        let mut forged = c.clone().into_bytes();
        forged[15] = if forged[15] == b'0' { b'1' } else { b'0' };
        assert_eq!(decode(std::str::from_utf8(&forged).unwrap()), None);
        for bad in ["", "abc", "zzzzzzzzzzzzzzzzzzzz", &c.to_uppercase(), &format!("{c}0")] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
