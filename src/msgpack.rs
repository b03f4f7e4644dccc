//! `MessagePack`, as the Socket.IO Redis adapter and the msgpack parser write it (with
//! `notepack.io`): a [`Sink`] (a bounded [`Writer`] into a slice, or any output) that picks
//! the encoding of each value the way notepack does (the smallest integer width, strings,
//! binaries, arrays and maps by length), and a [`Reader`] that takes every encoding the
//! format has (float32 and 64-bit integers included).
//! `no_std`, no allocation: the writer fills a slice, the reader borrows one.
//!
//! ```
//! use siocore::msgpack::{Reader, Sink, Value, Writer};
//!
//! let mut buf = [0u8; 32];
//! let mut w = Writer::new(&mut buf);
//! w.array(3)?;
//! w.str("abc")?;
//! w.int(-33)?;
//! w.bin(&[1, 2])?;
//! assert_eq!(w.written(), b"\x93\xa3abc\xd0\xdf\xc4\x02\x01\x02");
//!
//! let mut r = Reader::new(w.written());
//! assert_eq!(r.read(), Ok(Value::Array(3)));
//! assert_eq!(r.read(), Ok(Value::Str("abc")));
//! assert_eq!(r.read(), Ok(Value::Int(-33)));
//! assert_eq!(r.read(), Ok(Value::Bin(&[1, 2])));
//! assert!(r.is_empty());
//! # Ok::<(), siocore::BufferTooSmall>(())
//! ```

use core::fmt;

use crate::BufferTooSmall;

/// Where `MessagePack` values go, each in its smallest encoding (the way notepack picks
/// them): a slice ([`Writer`]), or any output that can append bytes. Implement
/// [`put`](Self::put); the values come with it.
pub trait Sink {
    /// Appends a head (marker and big-endian length or value bytes) and then `body`, both
    /// or neither.
    ///
    /// # Errors
    /// [`BufferTooSmall`] when the output cannot take them; what it said it needs.
    fn put(&mut self, head: &[u8], body: &[u8]) -> Result<(), BufferTooSmall>;

    /// Appends bytes that are already `MessagePack`.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    fn raw(&mut self, bytes: &[u8]) -> Result<(), BufferTooSmall> {
        self.put(&[], bytes)
    }

    /// `nil`.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    fn nil(&mut self) -> Result<(), BufferTooSmall> {
        self.put(&[0xc0], &[])
    }

    /// `true` or `false`.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    fn bool(&mut self, v: bool) -> Result<(), BufferTooSmall> {
        self.put(&[if v { 0xc3 } else { 0xc2 }], &[])
    }

    /// A non-negative integer: positive fixint, then uint 8, 16, 32, 64.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    fn uint(&mut self, v: u64) -> Result<(), BufferTooSmall> {
        let b = v.to_be_bytes();
        match v {
            0..0x80 => self.put(&[v as u8], &[]),
            0x80..0x100 => self.put(&[0xcc, v as u8], &[]),
            0x100..0x1_0000 => self.put(&[0xcd], &b[6..]),
            0x1_0000..0x1_0000_0000 => self.put(&[0xce], &b[4..]),
            _ => self.put(&[0xcf], &b),
        }
    }

    /// An integer: a non-negative one as [`uint`](Self::uint) writes it, a negative one as
    /// negative fixint, then int 8, 16, 32, 64.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    fn int(&mut self, v: i64) -> Result<(), BufferTooSmall> {
        if v >= 0 {
            return self.uint(v as u64);
        }
        let b = v.to_be_bytes();
        match v {
            -0x20..0 => self.put(&[v as u8], &[]),
            -0x80..0 => self.put(&[0xd0, v as u8], &[]),
            -0x8000..0 => self.put(&[0xd1], &b[6..]),
            -0x8000_0000..0 => self.put(&[0xd2], &b[4..]),
            _ => self.put(&[0xd3], &b),
        }
    }

    /// A float 64 (notepack writes every number that is not an integer so).
    ///
    /// # Errors
    /// As [`put`](Self::put).
    fn f64(&mut self, v: f64) -> Result<(), BufferTooSmall> {
        self.put(&[0xcb], &v.to_be_bytes())
    }

    /// A string: fixstr, then str 8, 16, 32.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    fn str(&mut self, s: &str) -> Result<(), BufferTooSmall> {
        head(self, s.len(), &Forms::STR, s.as_bytes())
    }

    /// The head of a string of `len` bytes, whose UTF-8 the caller appends with
    /// [`raw`](Self::raw).
    ///
    /// # Errors
    /// As [`put`](Self::put).
    fn str_head(&mut self, len: usize) -> Result<(), BufferTooSmall> {
        head(self, len, &Forms::STR, &[])
    }

    /// Binary data: bin 8, 16, 32.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    fn bin(&mut self, b: &[u8]) -> Result<(), BufferTooSmall> {
        head(self, b.len(), &Forms::BIN, b)
    }

    /// The head of an array of `n` values (which follow): fixarray, then array 16, 32.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    fn array(&mut self, n: usize) -> Result<(), BufferTooSmall> {
        head(self, n, &Forms::ARRAY, &[])
    }

    /// The head of a map of `n` pairs (key, value, key, value… follow): fixmap, then map
    /// 16, 32.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    fn map(&mut self, n: usize) -> Result<(), BufferTooSmall> {
        head(self, n, &Forms::MAP, &[])
    }
}

/// Writes the marker of a length in the first of `f`'s forms that holds it, then `body`.
fn head<S: Sink + ?Sized>(
    out: &mut S,
    len: usize,
    f: &Forms,
    body: &[u8],
) -> Result<(), BufferTooSmall> {
    if len < f.fixed_max {
        return out.put(&[f.fixed | len as u8], body);
    }
    if let Some(m8) = f.m8
        && len < 0x100
    {
        return out.put(&[m8, len as u8], body);
    }
    if len < 0x1_0000 {
        let n = (len as u16).to_be_bytes();
        return out.put(&[f.m16, n[0], n[1]], body);
    }
    let n = u32::try_from(len)
        .map_err(|_| BufferTooSmall {
            required: usize::MAX,
        })?
        .to_be_bytes();
    out.put(&[f.m32, n[0], n[1], n[2], n[3]], body)
}

/// Writes `MessagePack` values into a slice (see [`Sink`] for the values).
///
/// A value that does not fit leaves the writer as it was and returns how many bytes the
/// whole output would need so far.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub const fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Bytes written so far.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What was written.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl Sink for Writer<'_> {
    fn put(&mut self, head: &[u8], body: &[u8]) -> Result<(), BufferTooSmall> {
        let end = self.len + head.len() + body.len();
        let Some(out) = self.buf.get_mut(self.len..end) else {
            return Err(BufferTooSmall { required: end });
        };
        let (h, b) = out.split_at_mut(head.len());
        h.copy_from_slice(head);
        b.copy_from_slice(body);
        self.len = end;
        Ok(())
    }
}

/// A sink that keeps nothing and counts the bytes: what a value would take.
#[cfg(feature = "msgpack-parser")]
#[derive(Debug, Default)]
pub(crate) struct Counter(pub(crate) usize);

#[cfg(feature = "msgpack-parser")]
impl Sink for Counter {
    fn put(&mut self, head: &[u8], body: &[u8]) -> Result<(), BufferTooSmall> {
        self.0 = self.0.saturating_add(head.len() + body.len());
        Ok(())
    }
}

/// The markers of a length-prefixed kind: a fixed form (`fixed | len`) below `fixed_max`,
/// an 8-bit length where the kind has one, then 16 and 32 bits.
struct Forms {
    fixed: u8,
    fixed_max: usize,
    m8: Option<u8>,
    m16: u8,
    m32: u8,
}

impl Forms {
    const STR: Self = Self {
        fixed: 0xa0,
        fixed_max: 0x20,
        m8: Some(0xd9),
        m16: 0xda,
        m32: 0xdb,
    };
    const BIN: Self = Self {
        fixed: 0,
        fixed_max: 0,
        m8: Some(0xc4),
        m16: 0xc5,
        m32: 0xc6,
    };
    const ARRAY: Self = Self {
        fixed: 0x90,
        fixed_max: 0x10,
        m8: None,
        m16: 0xdc,
        m32: 0xdd,
    };
    const MAP: Self = Self {
        fixed: 0x80,
        fixed_max: 0x10,
        m8: None,
        m16: 0xde,
        m32: 0xdf,
    };
}

/// One `MessagePack` value as the [`Reader`] meets it. Arrays and maps give their length;
/// their items follow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// `nil`.
    Nil,
    /// `true` or `false`.
    Bool(bool),
    /// An integer of any width that fits an `i64`.
    Int(i64),
    /// An unsigned 64-bit integer above `i64::MAX`.
    UInt(u64),
    /// A float 32 (widened) or float 64.
    Float(f64),
    /// A string (UTF-8, checked).
    Str(&'a str),
    /// Binary data.
    Bin(&'a [u8]),
    /// An array of this many values, which come next.
    Array(u32),
    /// A map of this many pairs, which come next.
    Map(u32),
    /// An extension value: its type and data (notepack's dates and `undefined`).
    Ext(i8, &'a [u8]),
}

/// Why `MessagePack` input could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ends inside a value.
    Truncated,
    /// The reserved marker `0xc1`.
    Reserved,
    /// A string that is not UTF-8.
    Utf8,
    /// An array or map announces more items than the input could hold.
    TooLong,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Truncated => "truncated MessagePack",
            Self::Reserved => "reserved MessagePack marker 0xc1",
            Self::Utf8 => "MessagePack string is not UTF-8",
            Self::TooLong => "MessagePack array or map longer than its input",
        })
    }
}

impl core::error::Error for DecodeError {}

/// Reads `MessagePack` values one at a time from a slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `data`.
    pub const fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Bytes read so far.
    pub const fn position(&self) -> usize {
        self.pos
    }

    /// What is left to read.
    pub fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }

    /// The marker byte of the next value, if there is one: where [`Value`] does not tell
    /// them apart, which form a value has (notepack 2 writes an `ArrayBuffer` as ext 8, 16
    /// or 32 of type 0, `undefined` as fixext 1 and a date as fixext 8, both of type 0).
    pub fn next_marker(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Whether all the input was read.
    pub const fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let out = self.data.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(out)
    }

    fn be(&mut self, n: usize) -> Result<u64, DecodeError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// A length of `n` bytes, then that many bytes.
    fn sized(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let len = self.be(n)?;
        self.take(usize::try_from(len).map_err(|_| DecodeError::Truncated)?)
    }

    fn text(bytes: &[u8]) -> Result<&str, DecodeError> {
        core::str::from_utf8(bytes).map_err(|_| DecodeError::Utf8)
    }

    /// An array or map length; each item takes at least one byte, so a length the rest of
    /// the input cannot hold is refused before anyone counts on it.
    fn items(&self, n: u64, per: u64) -> Result<u32, DecodeError> {
        let left = (self.data.len() - self.pos.min(self.data.len())) as u64;
        if n.saturating_mul(per) > left {
            return Err(DecodeError::TooLong);
        }
        u32::try_from(n).map_err(|_| DecodeError::TooLong)
    }

    /// The next value.
    ///
    /// # Errors
    /// A [`DecodeError`]; the reader is then where the bad value started.
    pub fn read(&mut self) -> Result<Value<'a>, DecodeError> {
        let start = self.pos;
        let v = self.value();
        if v.is_err() {
            self.pos = start;
        }
        v
    }

    fn value(&mut self) -> Result<Value<'a>, DecodeError> {
        let m = self.take(1)?[0];
        Ok(match m {
            0x00..=0x7f => Value::Int(i64::from(m)),
            0x80..=0x8f => Value::Map(self.items(u64::from(m & 0x0f), 2)?),
            0x90..=0x9f => Value::Array(self.items(u64::from(m & 0x0f), 1)?),
            0xa0..=0xbf => Value::Str(Self::text(self.take(usize::from(m & 0x1f))?)?),
            0xc0 => Value::Nil,
            0xc1 => return Err(DecodeError::Reserved),
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4 => Value::Bin(self.sized(1)?),
            0xc5 => Value::Bin(self.sized(2)?),
            0xc6 => Value::Bin(self.sized(4)?),
            0xc7..=0xc9 => {
                let len = self.be(1 << (m - 0xc7))?;
                let t = self.take(1)?[0] as i8;
                Value::Ext(
                    t,
                    self.take(usize::try_from(len).map_err(|_| DecodeError::Truncated)?)?,
                )
            }
            0xca => Value::Float(f64::from(f32::from_bits(self.be(4)? as u32))),
            0xcb => Value::Float(f64::from_bits(self.be(8)?)),
            0xcc..=0xcf => {
                let v = self.be(1 << (m - 0xcc))?;
                i64::try_from(v).map_or(Value::UInt(v), Value::Int)
            }
            0xd0 => Value::Int(i64::from(self.be(1)? as u8 as i8)),
            0xd1 => Value::Int(i64::from(self.be(2)? as u16 as i16)),
            0xd2 => Value::Int(i64::from(self.be(4)? as u32 as i32)),
            0xd3 => Value::Int(self.be(8)? as i64),
            0xd4..=0xd8 => {
                let t = self.take(1)?[0] as i8;
                Value::Ext(t, self.take(1 << (m - 0xd4))?)
            }
            0xd9 => Value::Str(Self::text(self.sized(1)?)?),
            0xda => Value::Str(Self::text(self.sized(2)?)?),
            0xdb => Value::Str(Self::text(self.sized(4)?)?),
            0xdc | 0xdd => {
                let n = self.be(2 << (m - 0xdc))?;
                Value::Array(self.items(n, 1)?)
            }

            0xde | 0xdf => {
                let n = self.be(2 << (m - 0xde))?;
                Value::Map(self.items(n, 2)?)
            }

            0xe0..=0xff => Value::Int(i64::from(m as i8)),
        })
    }

    /// Skips the next value, with everything an array or map holds (no recursion: nesting
    /// costs nothing).
    ///
    /// # Errors
    /// A [`DecodeError`] from any value inside; the reader is then where it failed.
    pub fn skip(&mut self) -> Result<(), DecodeError> {
        let mut pending: u64 = 1;
        while pending > 0 {
            pending -= 1;
            match self.read()? {
                Value::Array(n) => pending += u64::from(n),
                Value::Map(n) => pending += 2 * u64::from(n),
                _ => {}
            }
        }
        Ok(())
    }

    /// The bytes of the next value, whole, skipped over.
    ///
    /// # Errors
    /// As [`skip`](Self::skip).
    pub fn raw(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        self.skip()?;
        Ok(self.data.get(start..self.pos).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(f: impl FnOnce(&mut Writer<'_>) -> Result<(), BufferTooSmall>) -> ([u8; 80], usize) {
        let mut buf = [0u8; 80];
        let mut w = Writer::new(&mut buf);
        f(&mut w).unwrap();
        let n = w.len();
        (buf, n)
    }

    /// What `f` wrote.
    struct Out([u8; 80], usize);

    impl core::ops::Deref for Out {
        type Target = [u8];
        fn deref(&self) -> &[u8] {
            &self.0[..self.1]
        }
    }

    fn bytes_of(f: impl FnOnce(&mut Writer<'_>) -> Result<(), BufferTooSmall>) -> Out {
        let (buf, n) = write(f);
        Out(buf, n)
    }

    #[test]
    fn integers_take_the_smallest_width_at_every_boundary() {
        let cases: &[(i64, &[u8])] = &[
            (0, b"\x00"),
            (127, b"\x7f"),
            (128, b"\xcc\x80"),
            (255, b"\xcc\xff"),
            (256, b"\xcd\x01\x00"),
            (65_535, b"\xcd\xff\xff"),
            (65_536, b"\xce\x00\x01\x00\x00"),
            (4_294_967_295, b"\xce\xff\xff\xff\xff"),
            (4_294_967_296, b"\xcf\x00\x00\x00\x01\x00\x00\x00\x00"),
            (-1, b"\xff"),
            (-32, b"\xe0"),
            (-33, b"\xd0\xdf"),
            (-128, b"\xd0\x80"),
            (-129, b"\xd1\xff\x7f"),
            (-32_768, b"\xd1\x80\x00"),
            (-32_769, b"\xd2\xff\xff\x7f\xff"),
            (-2_147_483_648, b"\xd2\x80\x00\x00\x00"),
            (-2_147_483_649, b"\xd3\xff\xff\xff\xff\x7f\xff\xff\xff"),
        ];
        for &(v, want) in cases {
            assert_eq!(&bytes_of(|w| w.int(v))[..], want, "{v}");
            assert_eq!(Reader::new(want).read(), Ok(Value::Int(v)), "{v}");
        }
        let big = bytes_of(|w| w.uint(u64::MAX));
        assert_eq!(&big[..], b"\xcf\xff\xff\xff\xff\xff\xff\xff\xff");
        assert_eq!(Reader::new(&big).read(), Ok(Value::UInt(u64::MAX)));
    }

    #[test]
    fn lengths_switch_form_where_notepack_does() {
        let a = [b'a'; 32];
        let s31 = core::str::from_utf8(&a[..31]).unwrap();
        assert_eq!(bytes_of(|w| w.str(s31))[0], 0xbf);
        let s32 = core::str::from_utf8(&a).unwrap();
        assert_eq!(&bytes_of(|w| w.str(s32))[..2], b"\xd9\x20");
        assert_eq!(&bytes_of(|w| w.bin(&[]))[..], b"\xc4\x00");
        assert_eq!(&bytes_of(|w| w.array(15))[..], b"\x9f");
        assert_eq!(&bytes_of(|w| w.array(16))[..], b"\xdc\x00\x10");
        assert_eq!(&bytes_of(|w| w.map(15))[..], b"\x8f");
        assert_eq!(&bytes_of(|w| w.map(70_000))[..], b"\xdf\x00\x01\x11\x70");
        let mut big = [0u8; 300];
        let mut w = Writer::new(&mut big);
        w.bin(&[7; 256]).unwrap();
        assert_eq!(&w.written()[..3], b"\xc5\x01\x00");
    }

    #[test]
    fn every_encoding_reads() {
        let cases: &[(&[u8], Value<'_>)] = &[
            (b"\xc0", Value::Nil),
            (b"\xc2", Value::Bool(false)),
            (b"\xc3", Value::Bool(true)),
            (b"\xcc\x05", Value::Int(5)),
            (b"\xcf\x00\x00\x00\x00\x00\x00\x00\x05", Value::Int(5)),
            (b"\xd3\xff\xff\xff\xff\xff\xff\xff\xfb", Value::Int(-5)),
            (b"\xca\x3f\xc0\x00\x00", Value::Float(1.5)),
            (b"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00", Value::Float(1.5)),
            (b"\xdb\x00\x00\x00\x02hi", Value::Str("hi")),
            (b"\xda\x00\x02hi", Value::Str("hi")),
            (b"\xc6\x00\x00\x00\x01\x09", Value::Bin(&[9])),
            (b"\xdd\x00\x00\x00\x01\xc0", Value::Array(1)),
            (b"\xde\x00\x01\xc0\xc0", Value::Map(1)),
            (b"\xd4\x00\x00", Value::Ext(0, &[0])),
            (b"\xd6\xff\x00\x00\x00\x01", Value::Ext(-1, &[0, 0, 0, 1])),
            (b"\xc7\x01\x05\x07", Value::Ext(5, &[7])),
        ];
        for &(bytes, want) in cases {
            assert_eq!(Reader::new(bytes).read(), Ok(want), "{bytes:x?}");
        }
    }

    #[test]
    fn bad_input_is_an_error_and_leaves_the_reader_in_place() {
        let cases: &[(&[u8], DecodeError)] = &[
            (b"", DecodeError::Truncated),
            (b"\xc1", DecodeError::Reserved),
            (b"\xa2h", DecodeError::Truncated),
            (b"\xa1\xff", DecodeError::Utf8),
            (b"\xcd\x01", DecodeError::Truncated),
            (b"\xdd\xff\xff\xff\xff", DecodeError::TooLong),
            (b"\x92\xc0", DecodeError::TooLong),
            (b"\xc6\xff\xff\xff\xff", DecodeError::Truncated),
        ];
        for &(bytes, want) in cases {
            let mut r = Reader::new(bytes);
            assert_eq!(r.read(), Err(want), "{bytes:x?}");
            assert_eq!(r.position(), 0);
        }
        // A map whose second value is cut: skip fails where that value starts.
        let mut r = Reader::new(b"\x82\xa1a\x01\xa1b");
        assert_eq!(r.skip(), Err(DecodeError::Truncated));
    }

    #[test]
    fn skip_and_raw_take_whole_nested_values() {
        let (buf, n) = write(|w| {
            w.array(2)?;
            w.map(1)?;
            w.str("k")?;
            w.array(2)?;
            w.nil()?;
            w.bin(&[1, 2, 3])?;
            w.f64(0.25)?;
            w.str("after")
        });
        let mut r = Reader::new(&buf[..n]);
        let first = r.raw().unwrap();
        assert_eq!(first.len(), n - 6);
        assert_eq!(r.read(), Ok(Value::Str("after")));
        assert!(r.is_empty());
    }

    #[test]
    fn a_value_that_does_not_fit_is_not_written() {
        let mut buf = [0u8; 4];
        let mut w = Writer::new(&mut buf);
        w.str("ab").unwrap();
        assert_eq!(w.str("cd"), Err(BufferTooSmall { required: 6 }));
        assert_eq!(w.written(), b"\xa2ab");
    }
}
