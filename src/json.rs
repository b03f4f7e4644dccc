//! A validating JSON scanner (RFC 8259) that never builds a tree.
//!
//! [`validate`] checks that a byte slice is exactly one JSON value, optionally surrounded by
//! whitespace: UTF-8 inside strings, every escape (including `\u` surrogate pairs, which must
//! be paired), the number grammar, the three literals, and nothing after the value. It makes a
//! single linear pass without recursion: nesting is tracked with a fixed bit stack, so hostile
//! input like a million `[` is rejected by [`Limits::max_depth`] instead of exhausting a stack.
//!
//! Three views help consumers that must look inside a value without parsing it into a tree:
//! [`Array`] iterates the elements of a top-level array as raw slices, [`Object`] iterates the
//! members of a top-level object as (key, raw value) pairs, and [`JsonStr`] views a string
//! token, compares it to a `&str` and unescapes it into a caller buffer.
//! [`write_str`] writes a `&str` as a JSON string the way `JSON.stringify` does.
//!
//! Lone surrogate escapes (`"\uD800"`) are rejected: RFC 8259 leaves them undefined and they
//! have no UTF-8 form.

use core::fmt;

use crate::BufferTooSmall;
use crate::write::Writer;

/// The largest nesting depth [`Limits::max_depth`] can express; larger values are clamped.
pub const MAX_DEPTH: usize = 256;

/// Bounds applied while scanning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest allowed nesting of arrays and objects (`[[1]]` has depth 2; a scalar has 0).
    /// Clamped to [`MAX_DEPTH`].
    pub max_depth: usize,
    /// Longest accepted input in bytes (checked before scanning).
    pub max_size: usize,
}

impl Limits {
    /// Depth 64, size 1 000 000 bytes (the Engine.IO default `maxPayload`).
    pub const DEFAULT: Self = Self {
        max_depth: 64,
        max_size: 1_000_000,
    };

    /// Validates `input` as one JSON value within these limits; see [`validate`].
    #[must_use = "the input is only known to be valid if this returns Ok"]
    pub fn validate(&self, input: &[u8]) -> Result<Kind, JsonError> {
        scan(input, self, &mut NoVisit).map(|top| top.kind)
    }

    /// Validates `input` as a comma-separated list of JSON values, the interior of an
    /// array without its brackets (`1,"2",{"3":[true]}`); empty or blank input is the empty
    /// list. This is the form Socket.IO argument lists take in the encoders.
    #[must_use = "the input is only known to be valid if this returns Ok"]
    pub fn validate_list(&self, input: &[u8]) -> Result<(), JsonError> {
        scan_values(input, self, &mut NoVisit, true).map(|_| ())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The kind of a JSON value (a closed set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `{…}`
    Object,
    /// `[…]`
    Array,
    /// `"…"`
    String,
    /// A number such as `-1.5e3`.
    Number,
    /// `true` or `false`.
    Bool,
    /// `null`
    Null,
}

/// Why a byte slice is not one valid JSON value. Offsets count from the start of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonError {
    /// The input ended inside a value (or was empty / only whitespace).
    UnexpectedEnd,
    /// A byte that cannot appear here (outside strings and numbers).
    UnexpectedByte {
        /// Offset of the byte.
        offset: usize,
    },
    /// A complete value is followed by more than whitespace.
    TrailingData {
        /// Offset of the first byte after the value and its whitespace.
        offset: usize,
    },
    /// A malformed number: leading zero, or a sign, `.`, `e` not followed by a digit.
    InvalidNumber {
        /// Offset of the offending byte.
        offset: usize,
    },
    /// An unknown escape (`\x`) or a `\u` not followed by four hex digits.
    InvalidEscape {
        /// Offset of the backslash.
        offset: usize,
    },
    /// A `\u` escape of a lone or misordered UTF-16 surrogate.
    InvalidSurrogate {
        /// Offset of the backslash of the offending escape.
        offset: usize,
    },
    /// An unescaped control character (below U+0020) inside a string.
    ControlCharacter {
        /// Offset of the byte.
        offset: usize,
    },
    /// A string contains bytes that are not UTF-8.
    InvalidUtf8 {
        /// Offset of the first byte of the invalid sequence.
        offset: usize,
    },
    /// Arrays and objects are nested deeper than [`Limits::max_depth`].
    TooDeep {
        /// Offset of the bracket that went past the limit.
        offset: usize,
    },
    /// The input is longer than [`Limits::max_size`].
    TooLarge {
        /// The input's length.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

impl JsonError {
    /// The offset the error points at, if it has one.
    pub const fn offset(&self) -> Option<usize> {
        match *self {
            Self::UnexpectedByte { offset }
            | Self::TrailingData { offset }
            | Self::InvalidNumber { offset }
            | Self::InvalidEscape { offset }
            | Self::InvalidSurrogate { offset }
            | Self::ControlCharacter { offset }
            | Self::InvalidUtf8 { offset }
            | Self::TooDeep { offset } => Some(offset),
            Self::UnexpectedEnd | Self::TooLarge { .. } => None,
        }
    }

    /// The same error with its offset moved by `by` (for a value embedded in a larger input).
    pub(crate) const fn shifted(self, by: usize) -> Self {
        match self {
            Self::UnexpectedByte { offset } => Self::UnexpectedByte {
                offset: offset.saturating_add(by),
            },
            Self::TrailingData { offset } => Self::TrailingData {
                offset: offset.saturating_add(by),
            },
            Self::InvalidNumber { offset } => Self::InvalidNumber {
                offset: offset.saturating_add(by),
            },
            Self::InvalidEscape { offset } => Self::InvalidEscape {
                offset: offset.saturating_add(by),
            },
            Self::InvalidSurrogate { offset } => Self::InvalidSurrogate {
                offset: offset.saturating_add(by),
            },
            Self::ControlCharacter { offset } => Self::ControlCharacter {
                offset: offset.saturating_add(by),
            },
            Self::InvalidUtf8 { offset } => Self::InvalidUtf8 {
                offset: offset.saturating_add(by),
            },
            Self::TooDeep { offset } => Self::TooDeep {
                offset: offset.saturating_add(by),
            },
            Self::UnexpectedEnd | Self::TooLarge { .. } => self,
        }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEnd => f.write_str("JSON ends early"),
            Self::UnexpectedByte { offset } => write!(f, "unexpected JSON byte at offset {offset}"),
            Self::TrailingData { offset } => {
                write!(f, "data after the JSON value at offset {offset}")
            }
            Self::InvalidNumber { offset } => write!(f, "invalid JSON number at offset {offset}"),
            Self::InvalidEscape { offset } => write!(f, "invalid JSON escape at offset {offset}"),
            Self::InvalidSurrogate { offset } => {
                write!(f, "unpaired UTF-16 surrogate escape at offset {offset}")
            }
            Self::ControlCharacter { offset } => {
                write!(f, "control character in JSON string at offset {offset}")
            }
            Self::InvalidUtf8 { offset } => {
                write!(f, "invalid UTF-8 in JSON string at offset {offset}")
            }
            Self::TooDeep { offset } => write!(f, "JSON nested too deep at offset {offset}"),
            Self::TooLarge { size, limit } => {
                write!(f, "JSON of {size} bytes exceeds the limit of {limit}")
            }
        }
    }
}

impl core::error::Error for JsonError {}

/// Validates `input` as one JSON value with [`Limits::DEFAULT`]; returns its kind.
///
/// Whitespace around the value is allowed (RFC 8259); anything else after it is
/// [`JsonError::TrailingData`].
#[must_use = "the input is only known to be valid if this returns Ok"]
pub fn validate(input: &[u8]) -> Result<Kind, JsonError> {
    Limits::DEFAULT.validate(input)
}

// ---------------------------------------------------------------------------------------
// The scanner core.

/// Hooks called during a scan, in document order. Offsets index the scanned input; ranges
/// are half-open. String ranges include the quotes.
pub(crate) trait Visitor {
    /// An array (`object == false`) or object starts at `start`.
    fn open(&mut self, _object: bool, _start: usize) {}
    /// The innermost container ends; `end` is just past its closing bracket.
    fn close(&mut self, _object: bool, _end: usize) {}
    /// An object key (string token `start..end`).
    fn key(&mut self, _start: usize, _end: usize, _escaped: bool) {}
    /// A scalar value `start..end`; `escaped` tells whether a string has escapes.
    fn scalar(&mut self, _kind: Kind, _start: usize, _end: usize, _escaped: bool) {}
}

/// A visitor that ignores everything.
struct NoVisit;

impl Visitor for NoVisit {}

/// What a successful scan found at the top level.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Top {
    /// Kind of the value.
    pub(crate) kind: Kind,
}

/// Container types of the open levels, one bit each (1 = object).
struct Stack {
    bits: [u32; MAX_DEPTH / 32],
    depth: usize,
}

impl Stack {
    const fn new() -> Self {
        Self {
            bits: [0; MAX_DEPTH / 32],
            depth: 0,
        }
    }

    /// Pushes a level; `false` when `limit` (≤ [`MAX_DEPTH`]) would be exceeded.
    fn push(&mut self, object: bool, limit: usize) -> bool {
        if self.depth >= limit {
            return false;
        }
        let Some(word) = self.bits.get_mut(self.depth / 32) else {
            return false;
        };
        let mask = 1u32 << (self.depth % 32);
        if object {
            *word |= mask;
        } else {
            *word &= !mask;
        }
        self.depth += 1;
        true
    }

    /// Whether the innermost open level is an object; `None` at the top level.
    fn top(&self) -> Option<bool> {
        let level = self.depth.checked_sub(1)?;
        let word = self.bits.get(level / 32)?;
        Some(word & (1u32 << (level % 32)) != 0)
    }

    fn pop(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
}

#[derive(Clone, Copy)]
enum State {
    /// A value must come next.
    Value,
    /// Just after `[`: a value or `]`.
    FirstElement,
    /// Just after `{`: a key or `}`.
    FirstKey,
    /// After `,` in an object: a key.
    Key,
    /// A value just ended.
    AfterValue,
}

const fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_ws(input: &[u8], mut pos: usize) -> usize {
    while let Some(&b) = input.get(pos) {
        if !is_ws(b) {
            break;
        }
        pos += 1;
    }
    pos
}

/// Scans one JSON value (with surrounding whitespace) covering all of `input`. The visitor
/// is dynamic so that the scanner exists once in the binary, whatever the visitor.
pub(crate) fn scan(input: &[u8], limits: &Limits, v: &mut dyn Visitor) -> Result<Top, JsonError> {
    scan_values(input, limits, v, false)
}

/// [`scan`], or with `list` a comma-separated list of values (an array's interior: empty
/// or whitespace is an empty list).
fn scan_values(
    input: &[u8],
    limits: &Limits,
    v: &mut dyn Visitor,
    list: bool,
) -> Result<Top, JsonError> {
    if input.len() > limits.max_size {
        return Err(JsonError::TooLarge {
            size: input.len(),
            limit: limits.max_size,
        });
    }
    let max_depth = limits.max_depth.min(MAX_DEPTH);
    let mut stack = Stack::new();
    let mut state = State::Value;
    let mut pos = 0usize;
    let mut top_kind = None;
    loop {
        pos = skip_ws(input, pos);
        let byte = input.get(pos).copied();
        if list && top_kind.is_none() && byte.is_none() {
            return Ok(Top { kind: Kind::Array });
        }
        match state {
            State::Value | State::FirstElement => {
                let Some(b) = byte else {
                    return Err(JsonError::UnexpectedEnd);
                };
                if matches!(state, State::FirstElement) && b == b']' {
                    stack.pop();
                    pos += 1;
                    v.close(false, pos);
                    state = State::AfterValue;
                    continue;
                }
                let kind = match b {
                    b'{' | b'[' => {
                        let object = b == b'{';
                        if !stack.push(object, max_depth) {
                            return Err(JsonError::TooDeep { offset: pos });
                        }
                        v.open(object, pos);
                        pos += 1;
                        state = if object {
                            State::FirstKey
                        } else {
                            State::FirstElement
                        };
                        top_kind.get_or_insert(if object { Kind::Object } else { Kind::Array });
                        continue;
                    }
                    b'"' => {
                        let (end, escaped) = scan_string(input, pos)?;
                        v.scalar(Kind::String, pos, end, escaped);
                        pos = end;
                        Kind::String
                    }
                    b'-' | b'0'..=b'9' => {
                        let end = scan_number(input, pos)?;
                        v.scalar(Kind::Number, pos, end, false);
                        pos = end;
                        Kind::Number
                    }
                    b't' | b'f' | b'n' => {
                        let (lit, kind): (&[u8], _) = match b {
                            b't' => (b"true", Kind::Bool),
                            b'f' => (b"false", Kind::Bool),
                            _ => (b"null", Kind::Null),
                        };
                        let end = scan_literal(input, pos, lit)?;
                        v.scalar(kind, pos, end, false);
                        pos = end;
                        kind
                    }
                    _ => return Err(JsonError::UnexpectedByte { offset: pos }),
                };
                top_kind.get_or_insert(kind);
                state = State::AfterValue;
            }
            State::FirstKey | State::Key => {
                let Some(b) = byte else {
                    return Err(JsonError::UnexpectedEnd);
                };
                if matches!(state, State::FirstKey) && b == b'}' {
                    stack.pop();
                    pos += 1;
                    v.close(true, pos);
                    state = State::AfterValue;
                    continue;
                }
                if b != b'"' {
                    return Err(JsonError::UnexpectedByte { offset: pos });
                }
                let (end, escaped) = scan_string(input, pos)?;
                v.key(pos, end, escaped);
                pos = skip_ws(input, end);
                match input.get(pos) {
                    None => return Err(JsonError::UnexpectedEnd),
                    Some(b':') => pos += 1,
                    Some(_) => return Err(JsonError::UnexpectedByte { offset: pos }),
                }
                state = State::Value;
            }
            State::AfterValue => {
                let Some(object) = stack.top() else {
                    return match byte {
                        None if list => Ok(Top { kind: Kind::Array }),
                        None => Ok(Top {
                            kind: top_kind.unwrap_or(Kind::Null),
                        }),
                        Some(b',') if list => {
                            state = State::Value;
                            pos += 1;
                            continue;
                        }
                        Some(_) => Err(JsonError::TrailingData { offset: pos }),
                    };
                };
                match (byte, object) {
                    (None, _) => return Err(JsonError::UnexpectedEnd),
                    (Some(b','), true) => state = State::Key,
                    (Some(b','), false) => state = State::Value,
                    (Some(b'}'), true) | (Some(b']'), false) => {
                        stack.pop();
                        v.close(object, pos + 1);
                    }
                    (Some(_), _) => return Err(JsonError::UnexpectedByte { offset: pos }),
                }
                pos += 1;
            }
        }
    }
}

/// Length of the prefix of `s` free of `"`, `\` and control bytes; sets `non_ascii` when that
/// prefix holds a byte ≥ 0x80. Eight bytes per step on the common ASCII path.
fn plain_prefix(s: &[u8], non_ascii: &mut bool) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const fn has_zero(x: u64) -> u64 {
        x.wrapping_sub(ONES) & !x & HIGH
    }
    let mut i = 0;
    for chunk in s.chunks_exact(8) {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let x = u64::from_le_bytes(bytes);
        let special = has_zero(x ^ (ONES * b'"' as u64))
            | has_zero(x ^ (ONES * b'\\' as u64))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGH);
        if special != 0 {
            break;
        }
        if x & HIGH != 0 {
            *non_ascii = true;
        }
        i += 8;
    }
    while let Some(&b) = s.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        if b >= 0x80 {
            *non_ascii = true;
        }
        i += 1;
    }
    i
}

/// Scans the string token whose opening quote is at `start`; returns the offset just past
/// the closing quote and whether it contains escapes.
fn scan_string(input: &[u8], start: usize) -> Result<(usize, bool), JsonError> {
    let body = start.saturating_add(1);
    let mut pos = body;
    let mut escaped = false;
    let mut non_ascii = false;
    loop {
        pos += plain_prefix(input.get(pos..).unwrap_or_default(), &mut non_ascii);
        match input.get(pos) {
            None => return Err(JsonError::UnexpectedEnd),
            Some(b'"') => break,
            Some(b'\\') => {
                escaped = true;
                pos = scan_escape(input, pos)?;
            }
            Some(_) => return Err(JsonError::ControlCharacter { offset: pos }),
        }
    }
    if non_ascii {
        let content = input.get(body..pos).unwrap_or_default();
        if let Err(e) = core::str::from_utf8(content) {
            return Err(JsonError::InvalidUtf8 {
                offset: body + e.valid_up_to(),
            });
        }
    }
    Ok((pos + 1, escaped))
}

/// Reads 4 hex digits at `at` (for the escape whose backslash is at `escape`).
fn hex4(input: &[u8], at: usize, escape: usize) -> Result<u16, JsonError> {
    let mut value = 0u16;
    for i in 0..4 {
        let Some(&b) = input.get(at.saturating_add(i)) else {
            return Err(JsonError::UnexpectedEnd);
        };
        let Some(digit) = hex_digit(b) else {
            return Err(JsonError::InvalidEscape { offset: escape });
        };
        value = (value << 4) | u16::from(digit);
    }
    Ok(value)
}

const fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Validates the escape whose backslash is at `pos`; returns the offset after it.
fn scan_escape(input: &[u8], pos: usize) -> Result<usize, JsonError> {
    match input.get(pos + 1) {
        None => Err(JsonError::UnexpectedEnd),
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(pos + 2),
        Some(b'u') => {
            let unit = hex4(input, pos + 2, pos)?;
            let after = pos + 6;
            match unit {
                0xD800..=0xDBFF => {
                    // Must be followed by `\u` and a low surrogate.
                    for (i, want) in [b'\\', b'u'].into_iter().enumerate() {
                        match input.get(after + i) {
                            None => return Err(JsonError::UnexpectedEnd),
                            Some(&b) if b == want => {}
                            Some(_) => return Err(JsonError::InvalidSurrogate { offset: pos }),
                        }
                    }
                    let low = hex4(input, after + 2, after)?;
                    if (0xDC00..=0xDFFF).contains(&low) {
                        Ok(after + 6)
                    } else {
                        Err(JsonError::InvalidSurrogate { offset: after })
                    }
                }
                0xDC00..=0xDFFF => Err(JsonError::InvalidSurrogate { offset: pos }),
                _ => Ok(after),
            }
        }
        Some(_) => Err(JsonError::InvalidEscape { offset: pos }),
    }
}

fn skip_digits(input: &[u8], mut pos: usize) -> usize {
    while input.get(pos).is_some_and(u8::is_ascii_digit) {
        pos += 1;
    }
    pos
}

/// Requires at least one digit at `pos`; returns the offset after the digit run.
fn digits(input: &[u8], pos: usize) -> Result<usize, JsonError> {
    match input.get(pos) {
        None => Err(JsonError::UnexpectedEnd),
        Some(b) if b.is_ascii_digit() => Ok(skip_digits(input, pos + 1)),
        Some(_) => Err(JsonError::InvalidNumber { offset: pos }),
    }
}

/// Scans a number starting at `start` (a `-` or a digit); returns its end.
fn scan_number(input: &[u8], start: usize) -> Result<usize, JsonError> {
    let mut pos = start;
    if input.get(pos) == Some(&b'-') {
        pos += 1;
    }
    match input.get(pos) {
        None => return Err(JsonError::UnexpectedEnd),
        Some(b'0') => {
            pos += 1;
            if input.get(pos).is_some_and(u8::is_ascii_digit) {
                return Err(JsonError::InvalidNumber { offset: pos });
            }
        }
        Some(b'1'..=b'9') => pos = skip_digits(input, pos + 1),
        Some(_) => return Err(JsonError::InvalidNumber { offset: pos }),
    }
    if input.get(pos) == Some(&b'.') {
        pos = digits(input, pos + 1)?;
    }
    if matches!(input.get(pos), Some(b'e' | b'E')) {
        pos += 1;
        if matches!(input.get(pos), Some(b'+' | b'-')) {
            pos += 1;
        }
        pos = digits(input, pos)?;
    }
    Ok(pos)
}

/// Matches the literal `lit` at `start`; returns its end.
fn scan_literal(input: &[u8], start: usize, lit: &[u8]) -> Result<usize, JsonError> {
    for (i, &want) in lit.iter().enumerate() {
        match input.get(start + i) {
            None => return Err(JsonError::UnexpectedEnd),
            Some(&b) if b == want => {}
            Some(_) => return Err(JsonError::UnexpectedByte { offset: start + i }),
        }
    }
    Ok(start + lit.len())
}

// ---------------------------------------------------------------------------------------
// Skipping inside already validated JSON.

/// Offset just past the string token starting at `start` in validated JSON.
pub(crate) fn skip_validated_string(s: &[u8], start: usize) -> usize {
    let mut i = start.saturating_add(1);
    while let Some(&b) = s.get(i) {
        match b {
            b'"' => return i + 1,
            b'\\' => i = i.saturating_add(2),
            _ => i += 1,
        }
    }
    s.len()
}

/// Length of the value at the start of `s` (validated JSON, no leading whitespace).
fn skip_validated_value(s: &[u8]) -> usize {
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        match b {
            b'"' => {
                i = skip_validated_string(s, i);
                if depth == 0 {
                    return i;
                }
                continue;
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                if depth <= 1 {
                    return if depth == 0 { i } else { i + 1 };
                }
                depth -= 1;
            }
            b',' if depth == 0 => return i,
            _ if depth == 0 && is_ws(b) => return i,
            _ => {}
        }
        i += 1;
    }
    i
}

pub(crate) fn trim_ws(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_ws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_ws(b)).map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or_default()
}

/// A validated top-level JSON array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Array<'a> {
    interior: &'a [u8],
}

impl<'a> Array<'a> {
    /// Validates `input` as one JSON array with [`Limits::DEFAULT`].
    ///
    /// A valid JSON value that is not an array yields [`JsonError::UnexpectedByte`] at the
    /// value's first byte.
    #[must_use = "this returns the array view"]
    pub fn parse(input: &'a [u8]) -> Result<Self, JsonError> {
        Self::parse_with(input, &Limits::DEFAULT)
    }

    /// Like [`Array::parse`] with explicit limits.
    #[must_use = "this returns the array view"]
    pub fn parse_with(input: &'a [u8], limits: &Limits) -> Result<Self, JsonError> {
        let top = scan(input, limits, &mut NoVisit)?;
        let value = trim_ws(input);
        if top.kind != Kind::Array {
            return Err(JsonError::UnexpectedByte {
                offset: skip_ws(input, 0),
            });
        }
        let interior = value
            .get(1..value.len().saturating_sub(1))
            .unwrap_or_default();
        Ok(Self {
            interior: trim_ws(interior),
        })
    }

    /// The bytes between the brackets, without surrounding whitespace.
    pub const fn interior(&self) -> &'a [u8] {
        self.interior
    }

    /// `true` for `[]`.
    pub const fn is_empty(&self) -> bool {
        self.interior.is_empty()
    }

    /// The elements, as raw JSON slices without surrounding whitespace.
    pub const fn elements(&self) -> Elements<'a> {
        Elements {
            rest: self.interior,
        }
    }
}

/// The values of a comma-separated list that was validated before (a received event's or
/// ack's arguments, or input [`Limits::validate_list`] accepted), as raw JSON slices. Other
/// input yields unspecified slices but never panics.
pub fn elements(list: &[u8]) -> Elements<'_> {
    Elements::new(list)
}

/// Iterator over the comma-separated values of a validated list (an array's interior, or
/// the argument list of a Socket.IO event). Yields raw JSON slices.
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    rest: &'a [u8],
}

impl<'a> Elements<'a> {
    /// Iterates `list`, which must come from a validated value (an [`Array::interior`] or a
    /// packet's args); other input yields unspecified slices but never panics.
    pub(crate) const fn new(list: &'a [u8]) -> Self {
        Self { rest: list }
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let start = skip_ws(self.rest, 0);
        let rest = self.rest.get(start..)?;
        if rest.is_empty() {
            self.rest = rest;
            return None;
        }
        let len = skip_validated_value(rest).max(1);
        let (item, after) = rest.split_at_checked(len)?;
        let after = after.get(skip_ws(after, 0)..).unwrap_or_default();
        self.rest = after.strip_prefix(b",").unwrap_or(after);
        Some(item)
    }
}

/// A validated top-level JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Object<'a> {
    interior: &'a [u8],
}

impl<'a> Object<'a> {
    /// Validates `input` as one JSON object with [`Limits::DEFAULT`].
    ///
    /// A valid JSON value that is not an object yields [`JsonError::UnexpectedByte`] at the
    /// value's first byte.
    #[must_use = "this returns the object view"]
    pub fn parse(input: &'a [u8]) -> Result<Self, JsonError> {
        Self::parse_with(input, &Limits::DEFAULT)
    }

    /// Like [`Object::parse`] with explicit limits.
    #[must_use = "this returns the object view"]
    pub fn parse_with(input: &'a [u8], limits: &Limits) -> Result<Self, JsonError> {
        let top = scan(input, limits, &mut NoVisit)?;
        if top.kind != Kind::Object {
            return Err(JsonError::UnexpectedByte {
                offset: skip_ws(input, 0),
            });
        }
        Ok(Self::from_validated(input))
    }

    /// Wraps `input`, already validated as one JSON object (whitespace around it allowed).
    /// Other input yields unspecified members but never panics.
    pub(crate) fn from_validated(input: &'a [u8]) -> Self {
        let value = trim_ws(input);
        let interior = value
            .get(1..value.len().saturating_sub(1))
            .unwrap_or_default();
        Self {
            interior: trim_ws(interior),
        }
    }

    /// The bytes between the braces, without surrounding whitespace.
    pub const fn interior(&self) -> &'a [u8] {
        self.interior
    }

    /// `true` for `{}`.
    pub const fn is_empty(&self) -> bool {
        self.interior.is_empty()
    }

    /// The members in document order (duplicate keys included), as key and raw value.
    pub const fn members(&self) -> Members<'a> {
        Members {
            rest: self.interior,
        }
    }
}

/// Iterator over the members of an [`Object`]: each key as a [`JsonStr`] and its value as a
/// raw JSON slice without surrounding whitespace.
#[derive(Debug, Clone)]
pub struct Members<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Members<'a> {
    type Item = (JsonStr<'a>, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest.get(skip_ws(self.rest, 0)..).unwrap_or_default();
        // Ends the iteration for good unless a whole member is found below.
        self.rest = &[];
        if rest.first() != Some(&b'"') {
            return None;
        }
        let (token, after) = rest.split_at_checked(skip_validated_string(rest, 0))?;
        let key = JsonStr::from_token(token, token.contains(&b'\\'));
        let after = after.get(skip_ws(after, 0)..).unwrap_or_default();
        let after = after.strip_prefix(b":")?;
        let value = after.get(skip_ws(after, 0)..).unwrap_or_default();
        let len = skip_validated_value(value).max(1);
        let (value, after) = value.split_at_checked(len)?;
        let after = after.get(skip_ws(after, 0)..).unwrap_or_default();
        self.rest = after.strip_prefix(b",").unwrap_or(after);
        Some((key, value))
    }
}

// ---------------------------------------------------------------------------------------
// String tokens.

/// A validated JSON string token, viewed without unescaping.
///
/// Equality (`==`) compares the raw escaped text; use [`JsonStr::eq_str`] to compare the
/// decoded value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonStr<'a> {
    raw: &'a [u8],
    escaped: bool,
}

impl<'a> JsonStr<'a> {
    /// Validates `token` as exactly one JSON string token, quotes included.
    #[must_use = "this returns the string view"]
    pub fn parse(token: &'a [u8]) -> Result<Self, JsonError> {
        match token.first() {
            None => return Err(JsonError::UnexpectedEnd),
            Some(b'"') => {}
            Some(_) => return Err(JsonError::UnexpectedByte { offset: 0 }),
        }
        let (end, escaped) = scan_string(token, 0)?;
        if end != token.len() {
            return Err(JsonError::TrailingData { offset: end });
        }
        Ok(Self::from_token(token, escaped))
    }

    /// Views a raw value from validated JSON (an [`Elements`] or [`Members`] item) as a
    /// string; `None` when it is not a string token.
    pub(crate) fn from_value(value: &'a [u8]) -> Option<Self> {
        (value.first() == Some(&b'"')).then(|| Self::from_token(value, value.contains(&b'\\')))
    }

    /// Views raw text with no escapes as a string value (a number used as an event name).
    pub(crate) const fn unquoted(raw: &'a [u8]) -> Self {
        Self {
            raw,
            escaped: false,
        }
    }

    /// Wraps a token already validated by the scanner.
    pub(crate) fn from_token(token: &'a [u8], escaped: bool) -> Self {
        let raw = token
            .get(1..token.len().saturating_sub(1))
            .unwrap_or_default();
        Self { raw, escaped }
    }

    /// The text between the quotes, escapes intact.
    pub const fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// `true` when the token contains at least one backslash escape.
    pub const fn has_escapes(&self) -> bool {
        self.escaped
    }

    /// The value as a borrowed `&str` when it has no escapes.
    pub fn as_str(&self) -> Option<&'a str> {
        if self.escaped {
            None
        } else {
            core::str::from_utf8(self.raw).ok()
        }
    }

    /// Whether the decoded value equals `s`.
    pub fn eq_str(&self, s: &str) -> bool {
        if !self.escaped {
            return self.raw == s.as_bytes();
        }
        let mut rest = s.as_bytes();
        for piece in self.pieces() {
            let mut utf8 = [0u8; 4];
            let bytes = match piece {
                Piece::Run(run) => run,
                Piece::Char(c) => c.encode_utf8(&mut utf8).as_bytes(),
            };
            match rest.strip_prefix(bytes) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        rest.is_empty()
    }

    /// Length in bytes of the decoded (UTF-8) value.
    pub fn unescaped_len(&self) -> usize {
        self.pieces()
            .map(|p| match p {
                Piece::Run(run) => run.len(),
                Piece::Char(c) => c.len_utf8(),
            })
            .sum()
    }

    /// Writes the decoded value (UTF-8) into `out`; returns its length.
    pub fn unescape_into(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let mut w = Writer::new(out);
        for piece in self.pieces() {
            match piece {
                Piece::Run(run) => w.put(run),
                Piece::Char(c) => w.put(c.encode_utf8(&mut [0u8; 4]).as_bytes()),
            }
        }
        w.finish()
    }

    /// Calls `sink` with the decoded value in pieces (runs of bytes and single characters),
    /// for writing it somewhere that is not one slice.
    pub(crate) fn for_each_unescaped(&self, mut sink: impl FnMut(&[u8])) {
        for piece in self.pieces() {
            match piece {
                Piece::Run(run) => sink(run),
                Piece::Char(c) => sink(c.encode_utf8(&mut [0u8; 4]).as_bytes()),
            }
        }
    }

    fn pieces(&self) -> Pieces<'a> {
        Pieces { rest: self.raw }
    }
}

/// A piece of a decoded string: a run of literal bytes or one escaped character.
enum Piece<'a> {
    Run(&'a [u8]),
    Char(char),
}

/// Splits validated string content into literal runs and escapes.
struct Pieces<'a> {
    rest: &'a [u8],
}

impl Pieces<'_> {
    fn unit(&self, at: usize) -> Option<u16> {
        let mut value = 0u16;
        for i in 0..4 {
            value = (value << 4) | u16::from(hex_digit(*self.rest.get(at + i)?)?);
        }
        Some(value)
    }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        let first = *self.rest.first()?;
        if first != b'\\' {
            let len = self
                .rest
                .iter()
                .position(|&b| b == b'\\')
                .unwrap_or(self.rest.len());
            let (run, rest) = self.rest.split_at_checked(len)?;
            self.rest = rest;
            return Some(Piece::Run(run));
        }
        let (c, len) = match self.rest.get(1) {
            Some(b'b') => ('\u{8}', 2),
            Some(b'f') => ('\u{c}', 2),
            Some(b'n') => ('\n', 2),
            Some(b'r') => ('\r', 2),
            Some(b't') => ('\t', 2),
            Some(b'u') => {
                let unit = self.unit(2).unwrap_or(0xFFFD);
                if (0xD800..0xDC00).contains(&unit) {
                    let code = match self.unit(8) {
                        Some(low @ 0xDC00..=0xDFFF) => {
                            0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00)
                        }
                        _ => 0xFFFD,
                    };
                    (char::from_u32(code).unwrap_or('\u{FFFD}'), 12)
                } else {
                    (char::from_u32(u32::from(unit)).unwrap_or('\u{FFFD}'), 6)
                }
            }
            Some(&b) => (char::from(b), 2),
            None => ('\u{FFFD}', 1),
        };
        self.rest = self.rest.get(len..).unwrap_or_default();
        Some(Piece::Char(c))
    }
}

/// Writes `s` as a JSON string token (with quotes) the way `JSON.stringify` does: `"` and `\`
/// and control characters escaped (`\b \f \n \r \t`, others as lowercase `\u00xx`), all
/// else verbatim. Returns the length written.
pub fn write_str(out: &mut [u8], s: &str) -> Result<usize, BufferTooSmall> {
    let mut w = Writer::new(out);
    put_str(&mut w, s);
    w.finish()
}

/// Writes `s` as a JSON string token into `w`.
pub(crate) fn put_str(w: &mut Writer<'_>, s: &str) {
    w.byte(b'"');
    put_escaped(w, s);
    w.byte(b'"');
}

/// Writes the content of a JSON string (no quotes), escaped as `JSON.stringify` does.
pub(crate) fn put_escaped(w: &mut Writer<'_>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut rest = s.as_bytes();
    while let Some(i) = rest
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
    {
        let (run, tail) = rest.split_at(i);
        w.put(run);
        let Some((&b, tail)) = tail.split_first() else {
            break;
        };
        match b {
            b'"' => w.put(b"\\\""),
            b'\\' => w.put(b"\\\\"),
            0x08 => w.put(b"\\b"),
            0x0c => w.put(b"\\f"),
            b'\n' => w.put(b"\\n"),
            b'\r' => w.put(b"\\r"),
            b'\t' => w.put(b"\\t"),
            _ => {
                w.put(b"\\u00");
                w.byte(HEX[usize::from(b >> 4)]);
                w.byte(HEX[usize::from(b & 0xf)]);
            }
        }
        rest = tail;
    }
    w.put(rest);
}

/// Length of `s` once escaped by [`put_escaped`] (without quotes).
pub(crate) fn escaped_len(s: &str) -> usize {
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' | 0x08 | 0x0c | b'\n' | b'\r' | b'\t' => 2,
            0..0x20 => 6,
            _ => 1,
        })
        .fold(0usize, usize::saturating_add)
}

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod object_tests {
    use super::*;
    use crate::testutil::Rng;

    /// Collects up to 8 members of `input` (which must be an object).
    fn members(input: &[u8]) -> ([(JsonStr<'_>, &[u8]); 8], usize) {
        let mut out = [(JsonStr::from_token(b"\"\"", false), &b""[..]); 8];
        let mut n = 0;
        for (slot, member) in out.iter_mut().zip(Object::parse(input).unwrap().members()) {
            *slot = member;
            n += 1;
        }
        (out, n)
    }

    #[test]
    fn empty_objects() {
        for input in [&b"{}"[..], b" { } ", b"{\n\t\r }"] {
            let object = Object::parse(input).unwrap();
            assert!(object.is_empty());
            assert_eq!(object.interior(), b"");
            assert_eq!(object.members().next(), None);
        }
    }

    #[test]
    fn values_of_every_kind() {
        let input = br#" { "s" : "x,}" , "n":-1.5e3,"t":true,"f":false,"z":null,
            "a":[1,[2],{"k":"]"}],"o":{"p":{"q":[]}} , "e":{} } "#;
        let object = Object::parse(input).unwrap();
        assert!(!object.is_empty());
        let (m, n) = members(input);
        let expected: [(&str, &[u8]); 8] = [
            ("s", br#""x,}""#),
            ("n", b"-1.5e3"),
            ("t", b"true"),
            ("f", b"false"),
            ("z", b"null"),
            ("a", br#"[1,[2],{"k":"]"}]"#),
            ("o", br#"{"p":{"q":[]}}"#),
            ("e", b"{}"),
        ];
        assert_eq!(n, expected.len());
        for ((key, value), (want_key, want_value)) in m.iter().zip(expected) {
            assert_eq!(key.as_str(), Some(want_key));
            assert_eq!(*value, want_value);
        }
    }

    #[test]
    fn nested_object_members() {
        let input = br#"{"outer":{"inner":[1,2],"deep":{"x":"y"}},"after":0}"#;
        let (m, n) = members(input);
        assert_eq!(n, 2);
        assert!(m[0].0.eq_str("outer"));
        assert!(m[1].0.eq_str("after"));
        assert_eq!(m[1].1, b"0");
        // A member's value can be viewed as an object in turn.
        let (inner, k) = members(m[0].1);
        assert_eq!(k, 2);
        assert!(inner[0].0.eq_str("inner"));
        assert_eq!(inner[0].1, b"[1,2]");
        assert!(inner[1].0.eq_str("deep"));
        let (deep, k) = members(inner[1].1);
        assert_eq!(k, 1);
        assert!(deep[0].0.eq_str("x"));
        assert_eq!(deep[0].1, br#""y""#);
    }

    #[test]
    fn keys_with_escapes_and_duplicates() {
        let input = br#"{"a\"b":1,"\u0063ode":2,"\\":3,"":4,"code":5,"\ud83d\ude00":6}"#;
        let (m, n) = members(input);
        assert_eq!(n, 6);
        assert!(m[0].0.has_escapes());
        assert!(m[0].0.eq_str("a\"b"));
        assert_eq!(m[0].0.raw(), br#"a\"b"#);
        assert!(m[1].0.eq_str("code"));
        assert_eq!(m[1].0.as_str(), None);
        assert!(m[2].0.eq_str("\\"));
        assert_eq!(m[3].0.as_str(), Some(""));
        // Duplicates are yielded as they come; deciding about them is the caller's job.
        assert_eq!(m[4].0.as_str(), Some("code"));
        assert_eq!(m[4].1, b"5");
        let mut buf = [0u8; 4];
        assert_eq!(m[5].0.unescape_into(&mut buf), Ok(4));
        assert_eq!(&buf, "😀".as_bytes());
    }

    #[test]
    fn refuses_non_objects_and_malformed_input() {
        assert_eq!(
            Object::parse(b" [1]"),
            Err(JsonError::UnexpectedByte { offset: 1 })
        );
        assert_eq!(
            Object::parse(b"\"{}\""),
            Err(JsonError::UnexpectedByte { offset: 0 })
        );
        assert_eq!(Object::parse(b"{"), Err(JsonError::UnexpectedEnd));
        assert_eq!(Object::parse(b""), Err(JsonError::UnexpectedEnd));
        assert_eq!(
            Object::parse(b"{}x"),
            Err(JsonError::TrailingData { offset: 2 })
        );
        assert_eq!(
            Object::parse(br#"{"a":1,}"#),
            Err(JsonError::UnexpectedByte { offset: 7 })
        );
        assert_eq!(
            Object::parse(br#"{1:2}"#),
            Err(JsonError::UnexpectedByte { offset: 1 })
        );
        let limits = Limits {
            max_depth: 2,
            max_size: 100,
        };
        assert!(Object::parse_with(br#"{"a":[1]}"#, &limits).is_ok());
        assert_eq!(
            Object::parse_with(br#"{"a":[[1]]}"#, &limits),
            Err(JsonError::TooDeep { offset: 6 })
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = Rng::new(23);
        let mut input = [0u8; 64];
        let mut valid_members = 0;
        for _ in 0..5000 {
            let mut len = rng.below(input.len() + 1);
            if rng.below(2) == 0 {
                // A valid object of random members, then maybe one byte overwritten.
                const KEYS: [&[u8]; 4] = [b"\"k\"", b"\"\\u00e9\"", b"\"a\\\"\"", b"\"\""];
                const VALUES: [&[u8]; 8] = [
                    b"1",
                    b"-0.5e1",
                    b"\"v,}\"",
                    b"null",
                    b"[1,[]]",
                    b"{\"x\":{}}",
                    b"{}",
                    b" true ",
                ];
                let mut w = Writer::new(&mut input);
                w.byte(b'{');
                for i in 0..rng.below(4) {
                    if i > 0 {
                        w.byte(b',');
                    }
                    w.put(KEYS[rng.below(KEYS.len())]);
                    w.byte(b':');
                    w.put(VALUES[rng.below(VALUES.len())]);
                }
                w.byte(b'}');
                len = w.finish().unwrap_or(0);
                if rng.below(4) == 0 && len > 0 {
                    input[rng.below(len)] = rng.pick(b"{}[]\":, \\1");
                }
            } else {
                for b in &mut input[..len] {
                    *b = rng.pick(b"{}[]\":, \\u0a-1etrn\xe2\x82\xac");
                }
            }
            let input = &input[..len];
            // Through the validating constructor: every member lies inside the input and
            // its value is itself valid JSON.
            if let Ok(object) = Object::parse(input) {
                for (key, value) in object.members() {
                    assert!(key.raw().len() < len && value.len() < len);
                    assert!(validate(value).is_ok(), "{input:?} {value:?}");
                    let mut buf = [0u8; 48];
                    assert!(key.unescape_into(&mut buf).is_ok());
                    valid_members += 1;
                }
            }
            // Unvalidated bytes behind the crate-internal constructor: no panic, bounded.
            let members = Object::from_validated(input).members();
            assert!(members.take(len + 1).count() <= len);
        }
        // The generator reaches valid objects often enough for the checks above to matter.
        assert!(valid_members > 500, "{valid_members}");
    }
}
