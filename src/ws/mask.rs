//! Payload masking (RFC 6455 section 5.3).

/// XORs `data` with the masking `key`, in place, as if `data` started `offset` bytes into
/// the payload (so a payload can be masked or unmasked in pieces).
///
/// Masking is its own inverse. Works a 4-byte word at a time (a loop the compiler turns
/// into vector instructions where the target has them); correct for any `offset` and
/// length.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    // Rotate so that `key[0]` applies to `data[0]`.
    let key = u32::from_be_bytes(key)
        .rotate_left(((offset & 3) * 8) as u32)
        .to_be_bytes();
    // (A `u128` XOR, as before, stays two 64-bit XORs on x86-64.)
    let k = u32::from_ne_bytes(key);
    let (words, tail) = data.as_chunks_mut::<4>();
    for w in words {
        *w = (u32::from_ne_bytes(*w) ^ k).to_ne_bytes();
    }
    for (b, k) in tail.iter_mut().zip(key.iter()) {
        *b ^= *k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    fn reference(data: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in data.iter_mut().enumerate() {
            *b ^= key[(offset + i) % 4];
        }
    }

    #[test]
    fn rfc_example_hello() {
        let mut data = *b"Hello";
        apply_mask(&mut data, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
        apply_mask(&mut data, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&data, b"Hello");
    }

    #[test]
    fn matches_bytewise_for_any_offset_and_length() {
        let mut rng = Rng::new(3);
        let mut a = [0u8; 100];
        for _ in 0..3000 {
            let len = rng.below(a.len() + 1);
            let offset = rng.below(1 << 20);
            let key = (rng.next_u64() as u32).to_ne_bytes();
            rng.fill(&mut a[..len]);
            let mut b = a;
            apply_mask(&mut a[..len], key, offset);
            reference(&mut b[..len], key, offset);
            assert_eq!(a, b);
        }
    }

    #[test]
    fn pieces_equal_whole() {
        let mut rng = Rng::new(4);
        let mut whole = [0u8; 77];
        rng.fill(&mut whole);
        let mut pieces = whole;
        let key = [1, 2, 3, 0xff];
        apply_mask(&mut whole, key, 0);
        let mut at = 0;
        while at < pieces.len() {
            let n = (rng.below(9) + 1).min(pieces.len() - at);
            apply_mask(&mut pieces[at..at + n], key, at);
            at += n;
        }
        assert_eq!(whole, pieces);
    }
}
