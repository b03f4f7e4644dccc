//! Typed positions in the server's tables ([`Ix`]) and optional links between entries
//! ([`Link`]): a session index cannot be used where a socket index is meant, and "no entry"
//! is `None`, not a sentinel the reader must remember to compare with.
//!
//! Both are one `u32`, the size of the raw index they replace: a link keeps `u32::MAX`
//! for "none" inside, where no table position can reach (tables hold fewer entries).

use core::fmt;
use core::marker::PhantomData;

/// The raw value of an empty [`Link`].
const NIL: u32 = u32::MAX;

/// The position of an entry in the table of `T`.
pub(crate) struct Ix<T> {
    n: u32,
    of: PhantomData<fn() -> T>,
}

impl<T> Ix<T> {
    /// The entry at position `n` (which the caller knows to be in its table).
    pub(crate) const fn new(n: u32) -> Self {
        debug_assert!(n != NIL);
        Self { n, of: PhantomData }
    }

    /// The position, as public handles and slices count it.
    pub(crate) const fn get(self) -> u32 {
        self.n
    }

    /// The position as a slice index.
    pub(crate) const fn at(self) -> usize {
        self.n as usize
    }
}

/// A link to an entry of the table of `T`, or none: list heads, chains, back references.
pub(crate) struct Link<T> {
    n: u32,
    of: PhantomData<fn() -> T>,
}

impl<T> Link<T> {
    /// No entry.
    pub(crate) const NONE: Self = Self {
        n: NIL,
        of: PhantomData,
    };

    /// A link to `ix`.
    pub(crate) const fn to(ix: Ix<T>) -> Self {
        Self {
            n: ix.n,
            of: PhantomData,
        }
    }

    /// The entry linked to.
    pub(crate) const fn get(self) -> Option<Ix<T>> {
        if self.n == NIL {
            None
        } else {
            Some(Ix::new(self.n))
        }
    }

    pub(crate) const fn is_none(self) -> bool {
        self.n == NIL
    }

    pub(crate) const fn is_some(self) -> bool {
        self.n != NIL
    }

    /// Whether the link is to `ix`.
    pub(crate) const fn is(self, ix: Ix<T>) -> bool {
        self.n == ix.n
    }

    /// The raw value (`u32::MAX` for none), for a table's free list.
    pub(crate) fn raw_mut(&mut self) -> &mut u32 {
        &mut self.n
    }
}

impl<T> From<Ix<T>> for Link<T> {
    fn from(ix: Ix<T>) -> Self {
        Self::to(ix)
    }
}

impl<T> From<Option<Ix<T>>> for Link<T> {
    fn from(ix: Option<Ix<T>>) -> Self {
        match ix {
            Some(ix) => Self::to(ix),
            None => Self::NONE,
        }
    }
}

// By hand: derives would ask `T` for the same traits, and `T` is only a name.
macro_rules! plain {
    ($($t:ident),*) => {$(
        impl<T> Clone for $t<T> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<T> Copy for $t<T> {}
        impl<T> PartialEq for $t<T> {
            fn eq(&self, other: &Self) -> bool {
                self.n == other.n
            }
        }
        impl<T> Eq for $t<T> {}
    )*};
}
plain!(Ix, Link);

impl<T> fmt::Debug for Ix<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.n)
    }
}

impl<T> fmt::Debug for Link<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get() {
            Some(ix) => ix.fmt(f),
            None => f.write_str("none"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct A;

    #[test]
    fn a_link_is_none_or_its_entry() {
        let ix = Ix::<A>::new(7);
        assert_eq!(Link::to(ix).get(), Some(ix));
        assert!(Link::to(ix).is(ix));
        assert_eq!(Link::<A>::NONE.get(), None);
        assert!(Link::<A>::NONE.is_none());
        assert_eq!(Link::from(None::<Ix<A>>), Link::NONE);
        assert_eq!(size_of::<Link<A>>(), 4);
        assert_eq!(size_of::<Ix<A>>(), 4);
    }
}
