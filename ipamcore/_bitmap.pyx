# cython: language_level=3
"""The compiled allocator core: a run-length-encoded bitmap of ordinals.

`Bitmap` holds ``bits`` ordinals, ``1 <= bits <= 2**128``, each used or free.
The used ordinals are stored as runs (maximal stretches of consecutive used
ordinals) in a B+tree ordered by run start, so every operation costs
O(log R) in the number of runs R, whatever ``bits`` is, and memory is O(R).

Ranges are inclusive everywhere: ``(start, end)`` covers both ends.

Invariants of the tree, checked by ``_check_invariants``:

* runs are canonical: none empty, none overlapping or touching (between two
  runs lies at least one free ordinal), all inside ``[0, last]``;
* every leaf lies at depth ``height``;
* the key of an inner entry equals the first key of its child;
* a node other than the root holds ``MIN_FILL`` to ``CAP`` entries, an inner
  root at least two;
* ``count`` and ``used`` are exact.

Memory is about 40 bytes per used run (two runs of the encoding), whatever
the run lengths.  That beats a dense bitmap as long as a used run and the
free run after it span a few hundred ordinals together; a bitmap where
almost every ordinal is a run of its own (every other ordinal used) costs
far more than one bit per ordinal.
TODO: dense chunk entries for heavily fragmented stretches, as compressed
bitmaps do, so that such a stretch costs one bit per ordinal.

Atomicity: no method releases the GIL or calls back into Python code once it
starts changing the tree, and memory a change needs is allocated before the
change begins, so each call is atomic with respect to other Python threads,
and a call that raises leaves the bitmap as it was.  The module does not
declare itself free-threading safe, so a free-threaded interpreter keeps the
GIL enabled while it is loaded.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.exc cimport PyErr_Clear, PyErr_Occurred
from cpython.long cimport PyLong_FromUnsignedLongLong
from libc.stdint cimport uint32_t, uint64_t, uintptr_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy, memmove, memset

import operator
import zlib

__all__ = [
    "MAX_BITS",
    "BitAllocatedError",
    "Bitmap",
    "BitmapError",
    "NoBitAvailableError",
]

cdef extern from "Python.h":
    # Declared without an exception clause: the caller checks for overflow.
    unsigned long long as_ull "PyLong_AsUnsignedLongLong"(object obj)
    bint PyLong_CheckExact(object obj)

MAX_BITS = 2**128
cdef object _MASK64 = 2**64 - 1

# Our own encoding: magic, version, then LEB128 numbers, then a CRC-32.
cdef bytes MAGIC = b"IPMB"
cdef unsigned char VERSION = 1
# The longest LEB128 encoding of a 128-bit number.
cdef enum:
    VARINT_MAX = 19


class BitmapError(Exception):
    """Base class of the bitmap's own errors."""


class NoBitAvailableError(BitmapError):
    """No free ordinal is left where one was searched for."""


class BitAllocatedError(BitmapError):
    """An ordinal that had to be free is already used."""


# -- 128-bit numbers across the Python boundary -----------------------------


cdef int u128_from_object(object obj, u128 *out) except -1:
    """Store a Python integer in out; return 1 if it lies outside [0, 2**128).

    Integers below 2**64 take the fast path; others go through Python
    arithmetic.  Non-integers raise TypeError.
    """
    cdef unsigned long long low
    if PyLong_CheckExact(obj):
        low = as_ull(obj)
        if low != <unsigned long long>-1 or PyErr_Occurred() == NULL:
            out[0] = low
            return 0
        PyErr_Clear()
    if isinstance(obj, bool):
        raise TypeError(f"expected an integer, got {obj!r}")
    value = operator.index(obj)
    if value < 0 or value >= MAX_BITS:
        return 1
    out[0] = (<u128>(<unsigned long long>(value >> 64)) << 64) | (
        <unsigned long long>(value & _MASK64)
    )
    return 0


cdef inline bint as_flag(object value) except -1:
    """Return a bool argument as a C flag; anything but True or False is refused.

    Truthiness is not enough: ``serial="false"`` must not mean serial.
    """
    if value is False:
        return 0
    if value is True:
        return 1
    raise TypeError(f"expected True or False, got {value!r}")


cdef object u128_to_object(u128 value):
    """Return value as a Python int."""
    if value >> 64 == 0:
        return PyLong_FromUnsignedLongLong(<unsigned long long>value)
    high = PyLong_FromUnsignedLongLong(<unsigned long long>(value >> 64))
    return (high << 64) | PyLong_FromUnsignedLongLong(<unsigned long long>value)


# -- nodes ------------------------------------------------------------------


cdef inline Node *child(Node *node, int i) noexcept nogil:
    return <Node *><uintptr_t>node.e[i].val


cdef inline u128 as_val(Node *node) noexcept nogil:
    return <u128><uintptr_t>node


cdef inline int upper(Node *node, u128 x) noexcept nogil:
    """Return how many entries of node have a key of at most x."""
    cdef int base = 0
    cdef int n = node.n
    cdef int half
    cdef const char *line = <const char *>&node.e[0]
    cdef const char *stop = <const char *>&node.e[node.n]
    # A binary search's probes depend on each other, so in a node that is
    # not in cache each would wait for memory in turn.  Asking for every
    # line at once lets those loads overlap.
    while line < stop:
        prefetch(line)
        line += 64
    # Halve a window of n entries starting at base, without branching on
    # the keys: random ordinals make those branches unpredictable, and each
    # misprediction costs more than the comparison.
    while n > 1:
        half = n >> 1
        base += half if node.e[base + half].key <= x else 0
        n -= half
    return base + (n == 1 and node.e[base].key <= x)


cdef Node *new_node(int cap) except NULL:
    cdef Node *node = <Node *>malloc(NODE_SIZE(cap))
    if node == NULL:
        raise MemoryError
    node.n = 0
    node.cap = cap
    return node


cdef void free_tree(Node *node, int height) noexcept nogil:
    cdef int i
    if node == NULL:
        return
    if height > 0:
        for i in range(node.n):
            free_tree(child(node, i), height - 1)
    free(node)


cdef Node *clone_tree(Node *node, int height) except NULL:
    """Return a deep copy of the subtree below node."""
    cdef Node *copy = new_node(node.cap)
    cdef int i
    memcpy(copy, node, NODE_SIZE(node.cap))
    if height == 0:
        return copy
    copy.n = 0
    try:
        for i in range(node.n):
            copy.e[i].val = as_val(clone_tree(child(node, i), height - 1))
            copy.n = i + 1
    except MemoryError:
        free_tree(copy, height)
        raise
    return copy


# -- walking the tree -------------------------------------------------------


cdef void descend(Tree *t, u128 x, Path *p) noexcept nogil:
    """Fill p with the way to the last run starting at or before x."""
    cdef Node *node = t.root
    cdef int d, i
    for d in range(t.height):
        i = upper(node, x) - 1
        if i < 0:
            i = 0
        p.node[d] = node
        p.idx[d] = i
        node = child(node, i)
    p.node[t.height] = node
    p.idx[t.height] = upper(node, x) - 1


cdef void descend_first(Tree *t, Path *p) noexcept nogil:
    """Fill p with the way to the first run."""
    cdef Node *node = t.root
    cdef int d
    for d in range(t.height + 1):
        p.node[d] = node
        p.idx[d] = 0
        if d < t.height:
            node = child(node, 0)


cdef void descend_start(Tree *t, Path *p) noexcept nogil:
    """Fill p as descend(t, 0, p) would, without searching any node.

    The plain set_any starts every search at ordinal 0, where the way down
    is always the leftmost one.
    """
    descend_first(t, p)
    if t.count == 0 or p.node[t.height].e[0].key != 0:
        p.idx[t.height] = -1


cdef void descend_last(Tree *t, Path *p) noexcept nogil:
    """Fill p with the way to the last run."""
    cdef Node *node = t.root
    cdef int d
    for d in range(t.height + 1):
        p.node[d] = node
        p.idx[d] = node.n - 1
        if d < t.height:
            node = child(node, node.n - 1)


cdef bint step_right(Tree *t, Path *p) noexcept nogil:
    """Move p to the first entry of the next leaf; False at the last leaf."""
    cdef int d = t.height - 1
    cdef Node *node
    while d >= 0 and p.idx[d] + 1 >= p.node[d].n:
        d -= 1
    if d < 0:
        return False
    p.idx[d] += 1
    node = child(p.node[d], p.idx[d])
    for d in range(d + 1, t.height + 1):
        p.node[d] = node
        p.idx[d] = 0
        if d < t.height:
            node = child(node, 0)
    return True


cdef inline bint step(Tree *t, Path *p) noexcept nogil:
    """Move p to the next run; False if it was at the last."""
    cdef Node *leaf = p.node[t.height]
    if p.idx[t.height] + 1 < leaf.n:
        p.idx[t.height] += 1
        return True
    return step_right(t, p)


cdef inline void copy_path(Tree *t, Path *dst, Path *src) noexcept nogil:
    memcpy(dst.node, src.node, (t.height + 1) * sizeof(Node *))
    memcpy(dst.idx, src.idx, (t.height + 1) * sizeof(int))


cdef inline Entry *at(Tree *t, Path *p) noexcept nogil:
    return &p.node[t.height].e[p.idx[t.height]]


# -- changing the tree ------------------------------------------------------


cdef void fix_keys(Path *p, int level) noexcept nogil:
    """Carry a changed first key of node[level] up to the ancestors."""
    cdef u128 low = p.node[level].e[0].key
    cdef int d = level - 1
    while d >= 0:
        p.node[d].e[p.idx[d]].key = low
        if p.idx[d] != 0:
            break
        d -= 1


cdef int reserve(Tree *t, Path *p) except -1:
    """Allocate what inserting one run into the leaf of p may need.

    Called before anything changes, so that running out of memory leaves the
    tree as it was.  A small root leaf grows in place; otherwise one spare
    node is kept ready for every full node on the way up, and one more for
    a new root.
    """
    cdef Node *leaf = p.node[t.height]
    cdef Node *node
    cdef int need = 0
    cdef int d = t.height
    cdef int cap = min(2 * leaf.cap, CAP + 1)
    if leaf.n == leaf.cap and leaf.cap <= CAP:
        node = <Node *>realloc(leaf, NODE_SIZE(cap))
        if node == NULL:
            raise MemoryError
        node.cap = cap
        t.root = p.node[0] = node
    if p.node[t.height].n < CAP:
        return 0
    while d >= 0 and p.node[d].n == CAP:
        need += 1
        d -= 1
    if d < 0:
        need += 1
    d = 0
    node = t.spare
    while node != NULL:
        d += 1
        node = <Node *><uintptr_t>node.e[0].val
    while d < need:
        node = new_node(CAP + 1)
        node.e[0].val = as_val(t.spare)
        t.spare = node
        d += 1
    return 0


cdef inline Node *take_spare(Tree *t) noexcept nogil:
    cdef Node *node = t.spare
    t.spare = <Node *><uintptr_t>node.e[0].val
    node.n = 0
    return node


cdef void insert_at(Tree *t, Path *p, int pos, u128 key, u128 val) noexcept nogil:
    """Insert run (key, val) at position pos of the leaf of p.

    reserve() must have run on p.  Nodes over CAP are split bottom-up; a
    node that grew at its end keeps all but MIN_FILL entries, so that runs
    added in ascending order fill their leaves.
    """
    cdef int level = t.height
    cdef Node *node = p.node[level]
    cdef Node *right
    cdef Node *parent
    cdef int k
    memmove(&node.e[pos + 1], &node.e[pos], (node.n - pos) * sizeof(Entry))
    node.e[pos].key = key
    node.e[pos].val = val
    node.n += 1
    t.count += 1
    if pos == 0:
        fix_keys(p, level)
    while node.n > CAP:
        right = take_spare(t)
        k = node.n - MIN_FILL if pos == node.n - 1 else node.n // 2
        right.n = node.n - k
        memcpy(&right.e[0], &node.e[k], right.n * sizeof(Entry))
        node.n = k
        if level == 0:
            parent = take_spare(t)
            parent.n = 2
            parent.e[0].key = node.e[0].key
            parent.e[0].val = as_val(node)
            parent.e[1].key = right.e[0].key
            parent.e[1].val = as_val(right)
            t.root = parent
            t.height += 1
            return
        level -= 1
        node = p.node[level]
        pos = p.idx[level] + 1
        memmove(&node.e[pos + 1], &node.e[pos], (node.n - pos) * sizeof(Entry))
        node.e[pos].key = right.e[0].key
        node.e[pos].val = as_val(right)
        node.n += 1


cdef void remove_at(Tree *t, Path *p, int pos) noexcept nogil:
    """Remove run pos of the leaf of p, then restore the fill of the nodes."""
    cdef int level = t.height
    cdef Node *node = p.node[level]
    memmove(&node.e[pos], &node.e[pos + 1], (node.n - pos - 1) * sizeof(Entry))
    node.n -= 1
    t.count -= 1
    if pos == 0 and node.n > 0:
        fix_keys(p, level)
    rebalance(t, p, level)


cdef void rebalance(Tree *t, Path *p, int level) noexcept nogil:
    """Bring node[level] back to MIN_FILL entries by merging or borrowing.

    A node that is too small merges with a sibling when both fit in one
    node, which may leave the parent too small in turn; otherwise it takes
    entries from the sibling until both hold about as many.  A root left
    with one child is dropped.
    """
    cdef Node *parent
    cdef Node *left
    cdef Node *right
    cdef int li, k
    while level > 0 and p.node[level].n < MIN_FILL:
        parent = p.node[level - 1]
        li = p.idx[level - 1]
        if li + 1 >= parent.n:
            li -= 1
        left = child(parent, li)
        right = child(parent, li + 1)
        if left.n + right.n <= CAP:
            memcpy(&left.e[left.n], &right.e[0], right.n * sizeof(Entry))
            left.n += right.n
            free(right)
            memmove(
                &parent.e[li + 1],
                &parent.e[li + 2],
                (parent.n - li - 2) * sizeof(Entry),
            )
            parent.n -= 1
            level -= 1
            continue
        # Even the two out rather than take one entry, so that a node that
        # keeps shrinking (the front of the tree under set_any) does not
        # borrow again on every call.
        if left == p.node[level]:
            k = (right.n - left.n) // 2
            memcpy(&left.e[left.n], &right.e[0], k * sizeof(Entry))
            left.n += k
            right.n -= k
            memmove(&right.e[0], &right.e[k], right.n * sizeof(Entry))
        else:
            k = (left.n - right.n) // 2
            memmove(&right.e[k], &right.e[0], right.n * sizeof(Entry))
            right.n += k
            left.n -= k
            memcpy(&right.e[0], &left.e[left.n], k * sizeof(Entry))
        parent.e[li + 1].key = right.e[0].key
        return
    if level == 0 and t.height > 0 and t.root.n == 1:
        left = t.root
        t.root = child(left, 0)
        t.height -= 1
        free(left)


# -- the bitmap -------------------------------------------------------------


def _restore(data):
    """Unpickle a Bitmap from its to_bytes() encoding."""
    return Bitmap.from_bytes(data)


@cython.final
cdef class Bitmap:
    """A run-length-encoded bitmap of ``bits`` ordinals, all free at first.

    Args:
        bits: Number of ordinals, from 1 to 2**128 inclusive.

    Raises:
        TypeError: bits is not an integer.
        ValueError: bits is outside [1, 2**128].

    >>> bm = Bitmap(8)
    >>> bm.set_any(), bm.set_any()
    (0, 1)
    >>> bm
    Bitmap(bits=8, free=6, runs=2)
    """

    cdef Tree tree
    cdef u128 last          # highest ordinal: bits - 1
    cdef u128 used          # used ordinals, modulo 2**128 (see free)
    cdef u128 serial_from   # where the next serial search starts

    def __cinit__(self, *args, **kwargs):
        self.tree.root = new_node(ROOT_START)

    def __init__(self, bits):
        cdef u128 count = 0
        if u128_from_object(bits, &count) == 0 and count > 0:
            self.last = count - 1
        elif operator.index(bits) == MAX_BITS:
            self.last = <u128>0 - 1
        else:
            raise ValueError(f"bits must be in [1, 2**128], got {bits!r}")

    def __dealloc__(self):
        cdef Node *node
        free_tree(self.tree.root, self.tree.height)
        while self.tree.spare != NULL:
            node = take_spare(&self.tree)
            free(node)

    # -- reading --------------------------------------------------------

    @property
    def bits(self):
        """Total number of ordinals."""
        return u128_to_object(self.last) + 1

    @property
    def free(self):
        """Number of free ordinals."""
        cdef Path p
        if self.tree.count == 1:
            descend_first(&self.tree, &p)
            if at(&self.tree, &p).key == 0 and at(&self.tree, &p).val == self.last:
                return 0
        return u128_to_object(self.last - self.used) + 1

    @property
    def runs(self):
        """Number of runs, used and free, in the run-length encoding."""
        cdef Path p
        cdef Py_ssize_t runs = 2 * self.tree.count + 1
        if self.tree.count == 0:
            return 1
        descend_first(&self.tree, &p)
        runs -= at(&self.tree, &p).key == 0
        descend_last(&self.tree, &p)
        runs -= at(&self.tree, &p).val == self.last
        return runs

    @property
    def cursor(self):
        """Where the next serial search starts: just past the last serial pick.

        Only serial calls move it; setting it (to undo or replay a serial
        call) changes no ordinal.

        Raises:
            TypeError: the new value is not an integer.
            IndexError: the new value is outside the bitmap.
        """
        return u128_to_object(self.serial_from)

    @cursor.setter
    def cursor(self, ordinal):
        cdef u128 x
        self._ordinal(ordinal, &x)
        self.serial_from = x

    def is_set(self, ordinal):
        """Return True if ordinal is used, False if free or outside the bitmap.

        Raises:
            TypeError: ordinal is not an integer.
        """
        cdef u128 x
        cdef Path p
        if u128_from_object(ordinal, &x) or x > self.last:
            return False
        descend(&self.tree, x, &p)
        return p.idx[self.tree.height] >= 0 and at(&self.tree, &p).val >= x

    def __contains__(self, ordinal):
        return self.is_set(ordinal)

    def find_free(self, start, end):
        """Return the lowest free ordinal of the inclusive range, or None.

        Raises:
            ValueError: the range is empty or reaches outside the bitmap.
        """
        cdef u128 a, b, x
        cdef Path p
        self._search_range(start, end, &a, &b)
        if self._find_free(a, b, &x, &p):
            return u128_to_object(x)
        return None

    def find_used(self, start, end):
        """Return the lowest used ordinal of the inclusive range, or None.

        Raises:
            ValueError: the range is empty or reaches outside the bitmap.
        """
        cdef u128 a, b
        cdef Path p
        self._search_range(start, end, &a, &b)
        descend(&self.tree, a, &p)
        if p.idx[self.tree.height] >= 0 and at(&self.tree, &p).val >= a:
            return u128_to_object(a)
        if step(&self.tree, &p) and at(&self.tree, &p).key <= b:
            return u128_to_object(at(&self.tree, &p).key)
        return None

    def ranges(self):
        """Return an iterator over the used ranges ``(start, end)``, ascending.

        Each step finds the first range starting after the one yielded last,
        so changing the bitmap while iterating is safe.
        """
        return _Ranges(self)

    # -- changing -------------------------------------------------------

    def set(self, ordinal):
        """Mark ordinal used.

        Raises:
            BitAllocatedError: ordinal is already used.
            IndexError: ordinal is outside [0, bits).
        """
        cdef u128 x
        self._ordinal(ordinal, &x)
        if self._add(x, x):
            raise BitAllocatedError(f"ordinal {ordinal} is already used")

    def unset(self, ordinal):
        """Mark ordinal free; return True if it was used.

        Raises:
            IndexError: ordinal is outside [0, bits).
        """
        cdef u128 x
        self._ordinal(ordinal, &x)
        return self._remove(x, x) == 1

    def set_range(self, start, end):
        """Mark every ordinal of the inclusive range used, or none of them.

        Raises:
            BitAllocatedError: some ordinal of the range is already used; the
                bitmap is unchanged.
            IndexError: start or end is outside [0, bits).
            ValueError: end < start.
        """
        cdef u128 a, b
        self._range(start, end, &a, &b)
        if self._add(a, b):
            raise BitAllocatedError(f"range [{start}, {end}] is partly used")

    def unset_range(self, start, end):
        """Mark every ordinal of the inclusive range free.

        Returns:
            How many of them were used.

        Raises:
            IndexError: start or end is outside [0, bits).
            ValueError: end < start.
        """
        cdef u128 a, b
        self._range(start, end, &a, &b)
        return self._remove(a, b)

    def set_any(self, serial=False):
        """Mark the lowest free ordinal used and return it.

        Args:
            serial: Search from just after the ordinal handed out by the last
                serial call, wrapping around, instead of from 0.

        Raises:
            NoBitAvailableError: every ordinal is used.
            TypeError: serial is not True or False.
        """
        return self._set_any(0, self.last, as_flag(serial))

    def set_any_in_range(self, start, end, serial=False):
        """Like set_any, restricted to the inclusive range [start, end].

        Raises:
            NoBitAvailableError: every ordinal of the range is used.
            ValueError: the range is empty or reaches outside the bitmap.
            TypeError: serial is not True or False, or start or end is not
                an integer.
        """
        cdef u128 a, b
        cdef bint flag = as_flag(serial)
        self._search_range(start, end, &a, &b)
        return self._set_any(a, b, flag)

    # -- value semantics ------------------------------------------------

    def copy(self):
        """Return an independent copy, serial cursor included."""
        cdef Bitmap other = Bitmap.__new__(Bitmap)
        cdef Node *root = clone_tree(self.tree.root, self.tree.height)
        free(other.tree.root)
        other.tree.root = root
        other.tree.height = self.tree.height
        other.tree.count = self.tree.count
        other.last = self.last
        other.used = self.used
        other.serial_from = self.serial_from
        return other

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def __reduce__(self):
        return (_restore, (self.to_bytes(),))

    def __eq__(self, other):
        if not isinstance(other, Bitmap):
            return NotImplemented
        return self._same(<Bitmap>other)

    def __ne__(self, other):
        if not isinstance(other, Bitmap):
            return NotImplemented
        return not self._same(<Bitmap>other)

    __hash__ = None

    def __repr__(self):
        return f"Bitmap(bits={self.bits}, free={self.free}, runs={self.runs})"

    # -- encodings ------------------------------------------------------

    def to_bytes(self):
        """Return the compact, versioned, checksummed encoding.

        Layout: ``b"IPMB"``, a version byte, then LEB128 numbers (highest
        ordinal, serial cursor, run count, then per run the free stretch
        before it and its length minus one), then the CRC-32 of all that,
        little-endian.
        """
        cdef Path p
        cdef Py_ssize_t size = 5 + VARINT_MAX * (3 + 2 * self.tree.count) + 4
        cdef unsigned char *buf = <unsigned char *>malloc(size)
        cdef Py_ssize_t n
        if buf == NULL:
            raise MemoryError
        try:
            memcpy(buf, PyBytes_AS_STRING(MAGIC), 4)
            buf[4] = VERSION
            n = put_varint(buf, 5, self.last)
            n = put_varint(buf, n, self.serial_from)
            n = put_varint(buf, n, <u128>self.tree.count)
            n = self._put_runs(buf, n)
            data = PyBytes_FromStringAndSize(<char *>buf, n)
        finally:
            free(buf)
        return data + (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "little")

    @classmethod
    def from_bytes(cls, data):
        """Rebuild a Bitmap from the output of to_bytes().

        Raises:
            TypeError: data is not bytes-like.
            ValueError: data is truncated, corrupted or of another version.
        """
        cdef bytes raw = bytes(memoryview(data))
        cdef const unsigned char *buf = <const unsigned char *>PyBytes_AS_STRING(raw)
        cdef Py_ssize_t size = len(raw)
        cdef Py_ssize_t n
        cdef u128 count
        cdef Bitmap bm = Bitmap.__new__(Bitmap)
        if size < 12 or raw[:4] != MAGIC:
            raise ValueError("not an ipamcore bitmap encoding")
        if buf[4] != VERSION:
            raise ValueError(f"unsupported bitmap encoding version {buf[4]}")
        size -= 4
        if zlib.crc32(raw[:size]) & 0xFFFFFFFF != int.from_bytes(raw[size:], "little"):
            raise ValueError("bitmap encoding fails its checksum")
        n = get_varint(buf, 5, size, &bm.last)
        n = get_varint(buf, n, size, &bm.serial_from)
        n = get_varint(buf, n, size, &count)
        if bm.serial_from > bm.last or count > <u128>((size - n) // 2):
            raise ValueError("bitmap encoding is inconsistent")
        if bm._get_runs(buf, n, size, <Py_ssize_t>count) != size:
            raise ValueError("bitmap encoding has trailing bytes")
        return bm

    def to_libnetwork(self):
        """Return the byte layout of libnetwork's bitseq handle.

        A 16-byte big-endian header (bit count, free count), then entries of
        a 32-bit block (its most significant bit is the lowest ordinal) and
        a 64-bit repeat count, equal neighbouring blocks merged.

        Raises:
            ValueError: the bitmap has 2**64 bits or more.
        """
        cdef Path p
        cdef LnWriter w
        if self.last >> 64 != 0 or self.last == <u128>(<uint64_t>-1):
            raise ValueError("the libnetwork layout holds fewer than 2**64 bits")
        w.size = 16 + 12 * (4 * self.tree.count + 4)
        w.buf = <unsigned char *>malloc(w.size)
        if w.buf == NULL:
            raise MemoryError
        try:
            self._write_libnetwork(&w)
            data = PyBytes_FromStringAndSize(<char *>w.buf, w.n)
        finally:
            free(w.buf)
        return data

    @classmethod
    def from_libnetwork(cls, data, *, max_runs=1 << 22):
        """Import the byte layout of libnetwork's bitseq handle.

        Entries with a zero repeat count are dropped and the free count is
        recomputed from the entries.

        Args:
            data: The bytes Docker stored.
            max_runs: Refuse input whose entries could decode to more runs
                than this, so that a few hostile bytes cannot claim
                gigabytes.  The count is taken before runs that meet across
                blocks are merged, so it can exceed the `runs` of the result.

        Raises:
            TypeError: data is not bytes-like.
            ValueError: data is malformed, its repeat counts do not add up
                to the bit count, it sets ordinals past the bit count, or it
                decodes to more than max_runs runs.
        """
        cdef bytes raw = bytes(memoryview(data))
        cdef const unsigned char *buf = <const unsigned char *>PyBytes_AS_STRING(raw)
        cdef Py_ssize_t size = len(raw)
        cdef Bitmap bm = Bitmap.__new__(Bitmap)
        cdef uint64_t bits
        if size < 16 or (size - 16) % 12 != 0:
            raise ValueError(f"libnetwork bitmap of {size} bytes is malformed")
        bits = get_be64(buf)
        if bits == 0:
            raise ValueError("libnetwork bitmap declares zero bits")
        bm.last = bits - 1
        check_libnetwork(buf, size, bits, operator.index(max_runs))
        bm._read_libnetwork(buf, size)
        return bm

    # -- internals ------------------------------------------------------

    cdef int _ordinal(self, object obj, u128 *out) except -1:
        if u128_from_object(obj, out) or out[0] > self.last:
            raise IndexError(f"ordinal {obj!r} outside the bitmap [0, {self.bits})")
        return 0

    cdef int _range(self, object start, object end, u128 *a, u128 *b) except -1:
        self._ordinal(start, a)
        self._ordinal(end, b)
        if b[0] < a[0]:
            raise ValueError(f"range end {end!r} is below its start {start!r}")
        return 0

    cdef int _search_range(self, object start, object end, u128 *a, u128 *b) except -1:
        if (
            u128_from_object(start, a)
            or u128_from_object(end, b)
            or b[0] < a[0]
            or b[0] > self.last
        ):
            raise ValueError(
                f"range [{start!r}, {end!r}] is empty or outside [0, {self.bits})"
            )
        return 0

    cdef bint _find_free(self, u128 a, u128 b, u128 *x, Path *p) noexcept:
        """Find the lowest free ordinal of [a, b]; p is left ready to add it."""
        cdef Entry *run
        if a == 0:
            descend_start(&self.tree, p)
        else:
            descend(&self.tree, a, p)
        if p.idx[self.tree.height] < 0:
            x[0] = a
            return True
        run = at(&self.tree, p)
        if run.val < a:
            x[0] = a
            return True
        if run.val >= b:
            return False
        x[0] = run.val + 1
        return True

    cdef object _set_any(self, u128 a, u128 b, bint serial):
        cdef u128 x
        cdef Path p
        cdef bint found
        cdef u128 c = self.serial_from
        if serial and a <= c <= b:
            found = self._find_free(c, b, &x, &p) or (
                c > a and self._find_free(a, c - 1, &x, &p)
            )
        else:
            found = self._find_free(a, b, &x, &p)
        if not found:
            raise NoBitAvailableError(
                f"no free ordinal in [{u128_to_object(a)}, {u128_to_object(b)}]"
            )
        self._add_at(&p, x, x)
        if serial:
            self.serial_from = 0 if x == self.last else x + 1
        return u128_to_object(x)

    cdef int _add(self, u128 a, u128 b) except -1:
        """Mark [a, b] used; return 1, changing nothing, if any is used."""
        cdef Path p
        cdef Path q
        descend(&self.tree, a, &p)
        if p.idx[self.tree.height] >= 0 and at(&self.tree, &p).val >= a:
            return 1
        copy_path(&self.tree, &q, &p)
        if step(&self.tree, &q) and at(&self.tree, &q).key <= b:
            return 1
        self._add_at(&p, a, b)
        return 0

    cdef int _add_at(self, Path *p, u128 a, u128 b) except -1:
        """Mark free [a, b] used, merging with the runs beside it.

        p is the way to the last run starting before a, as descend() gives.
        """
        cdef Tree *t = &self.tree
        cdef Path q
        cdef Entry *prev = NULL
        cdef Entry *succ = NULL
        cdef int j = p.idx[t.height]
        if j >= 0 and at(t, p).val + 1 == a:
            prev = at(t, p)
        copy_path(t, &q, p)
        if step(t, &q) and at(t, &q).key - 1 == b:
            succ = at(t, &q)
        if prev != NULL and succ != NULL:
            prev.val = succ.val
            remove_at(t, &q, q.idx[t.height])
        elif prev != NULL:
            prev.val = b
        elif succ != NULL:
            succ.key = a
            if q.idx[t.height] == 0:
                fix_keys(&q, t.height)
        else:
            reserve(t, p)
            insert_at(t, p, j + 1, a, b)
        self.used += b - a + 1
        return 0

    cdef object _remove(self, u128 a, u128 b):
        """Mark [a, b] free; return how many were used, as a Python int."""
        cdef Tree *t = &self.tree
        cdef Path p
        cdef Entry *run
        cdef u128 spans = 0
        cdef Py_ssize_t runs = 0
        cdef u128 start, end
        cdef bint reaches_end
        while True:
            descend(t, a, &p)
            if p.idx[t.height] < 0 or at(t, &p).val < a:
                if not step(t, &p) or at(t, &p).key > b:
                    break
            run = at(t, &p)
            start = max(run.key, a)
            end = min(run.val, b)
            spans += end - start
            runs += 1
            # A run reaching b is the last one the range meets: stop there
            # rather than descend again only to find nothing.
            reaches_end = run.val >= b
            if run.key < a and run.val > b:
                reserve(t, &p)
                run = at(t, &p)
                end = run.val
                run.val = a - 1
                insert_at(t, &p, p.idx[t.height] + 1, b + 1, end)
                break
            if run.key < a:
                run.val = a - 1
            elif run.val > b:
                run.key = b + 1
                if p.idx[t.height] == 0:
                    fix_keys(&p, t.height)
                break
            else:
                remove_at(t, &p, p.idx[t.height])
            if reaches_end:
                break
        self.used -= spans + <u128>runs
        return u128_to_object(spans) + runs

    cdef bint _same(self, Bitmap other) noexcept:
        cdef Path p
        cdef Path q
        cdef Py_ssize_t i
        if (
            self.last != other.last
            or self.used != other.used
            or self.serial_from != other.serial_from
            or self.tree.count != other.tree.count
        ):
            return False
        descend_first(&self.tree, &p)
        descend_first(&other.tree, &q)
        for i in range(self.tree.count):
            if i > 0:
                step(&self.tree, &p)
                step(&other.tree, &q)
            if (
                at(&self.tree, &p).key != at(&other.tree, &q).key
                or at(&self.tree, &p).val != at(&other.tree, &q).val
            ):
                return False
        return True

    cdef Py_ssize_t _put_runs(self, unsigned char *buf, Py_ssize_t n) noexcept:
        cdef Path p
        cdef Py_ssize_t i
        cdef u128 gap
        cdef Entry *run
        descend_first(&self.tree, &p)
        for i in range(self.tree.count):
            if i > 0:
                gap = at(&self.tree, &p).val + 2
                step(&self.tree, &p)
            else:
                gap = 0
            run = at(&self.tree, &p)
            n = put_varint(buf, n, run.key - gap)
            n = put_varint(buf, n, run.val - run.key)
        return n

    cdef Py_ssize_t _get_runs(
        self, const unsigned char *buf, Py_ssize_t n, Py_ssize_t size, Py_ssize_t count
    ) except -1:
        cdef u128 low = 0
        cdef u128 gap, length, key
        cdef Py_ssize_t i
        for i in range(count):
            n = get_varint(buf, n, size, &gap)
            n = get_varint(buf, n, size, &length)
            key = low + gap
            if key < low or key > self.last or self.last - key < length:
                raise ValueError("bitmap encoding has a run outside the bitmap")
            self._append(key, key + length)
            low = key + length + 2
            if i + 1 < count and low < key:
                raise ValueError("bitmap encoding has a run outside the bitmap")
        return n

    cdef int _append(self, u128 a, u128 b) except -1:
        """Add run [a, b] after every run there is, not touching the last."""
        cdef Path p
        descend(&self.tree, a, &p)
        reserve(&self.tree, &p)
        insert_at(&self.tree, &p, p.idx[self.tree.height] + 1, a, b)
        self.used += b - a + 1
        return 0

    cdef int _write_libnetwork(self, LnWriter *w) except -1:
        cdef Path p
        cdef Py_ssize_t i
        cdef Entry *run
        put_be64(w.buf, <uint64_t>(self.last + 1))
        put_be64(w.buf + 8, <uint64_t>(self.last - self.used + 1))
        w.n = 16
        w.block = 0
        w.bits = 0
        descend_first(&self.tree, &p)
        for i in range(self.tree.count):
            if i > 0:
                step(&self.tree, &p)
            run = at(&self.tree, &p)
            ln_mark(w, <uint64_t>run.key, <uint64_t>run.val)
        ln_flush(w, <uint64_t>(self.last >> 5) + 1)
        return 0

    cdef int _read_libnetwork(self, const unsigned char *buf, Py_ssize_t size) except -1:
        cdef Py_ssize_t off
        cdef uint32_t block
        cdef uint64_t count, rep
        cdef u128 pos = 0
        cdef u128 start = 0
        cdef bint open_run = False
        cdef int bit
        for off in range(16, size, 12):
            block = get_be32(buf + off)
            count = get_be64(buf + off + 4)
            if count == 0:
                continue
            if block == 0 or block == 0xFFFFFFFF:
                if block != 0 and not open_run:
                    start = pos
                    open_run = True
                elif block == 0 and open_run:
                    self._append(start, pos - 1)
                    open_run = False
                pos += <u128>count * 32
                continue
            for rep in range(count):
                for bit in range(32):
                    if (block >> (31 - bit)) & 1:
                        if not open_run:
                            start = pos
                            open_run = True
                    elif open_run:
                        self._append(start, pos - 1)
                        open_run = False
                    pos += 1
        if open_run:
            self._append(start, min(pos - 1, self.last))
        return 0

    def _check_invariants(self):
        """Raise RuntimeError if the tree breaks one of its invariants.

        For tests; costs O(R).
        """
        cdef Py_ssize_t count = 0
        cdef u128 used = 0
        cdef u128 prev_end = 0
        check_node(self.tree.root, self.tree.height, True)
        walk_runs(self.tree.root, self.tree.height, &count, &used, &prev_end)
        if count != self.tree.count or used != self.used:
            raise RuntimeError("run count or used count is off")
        if count and prev_end > self.last:
            raise RuntimeError("a run reaches past the last ordinal")
        if self.serial_from > self.last:
            raise RuntimeError("serial cursor outside the bitmap")

    @property
    def _height(self):
        """Height of the tree (0 when the root is a leaf); for tests."""
        return self.tree.height


@cython.final
cdef class _Ranges:
    """Iterator over the used ranges of a Bitmap."""

    cdef Bitmap bitmap
    cdef u128 after
    cdef bint started
    cdef bint done

    def __cinit__(self, Bitmap bitmap):
        self.bitmap = bitmap

    def __iter__(self):
        return self

    def __next__(self):
        cdef Tree *t = &self.bitmap.tree
        cdef Path p
        cdef Entry *run
        if self.done:
            raise StopIteration
        if self.started:
            descend(t, self.after, &p)
            self.done = not step(t, &p)
        else:
            descend_first(t, &p)
            self.done = t.count == 0
        if self.done:
            raise StopIteration
        run = at(t, &p)
        self.started = True
        self.after = run.val
        return (u128_to_object(run.key), u128_to_object(run.val))


# -- invariant checks -------------------------------------------------------


cdef void check_node(Node *node, int height, bint is_root) except *:
    cdef int i
    if node.n > CAP or node.n > node.cap:
        raise RuntimeError("node over capacity")
    if not is_root and node.n < MIN_FILL:
        raise RuntimeError("node under MIN_FILL")
    if is_root and height > 0 and node.n < 2:
        raise RuntimeError("inner root with fewer than two children")
    if height == 0:
        return
    for i in range(node.n):
        if node.e[i].key != child(node, i).e[0].key:
            raise RuntimeError("inner key differs from its child's first key")
        check_node(child(node, i), height - 1, False)


cdef void walk_runs(
    Node *node, int height, Py_ssize_t *count, u128 *used, u128 *prev_end
) except *:
    cdef int i
    cdef Entry *run
    for i in range(node.n):
        if height > 0:
            walk_runs(child(node, i), height - 1, count, used, prev_end)
            continue
        run = &node.e[i]
        if run.val < run.key:
            raise RuntimeError("run ends before it starts")
        if count[0] and (run.key <= prev_end[0] or run.key - prev_end[0] < 2):
            raise RuntimeError("runs out of order, overlapping or touching")
        prev_end[0] = run.val
        count[0] += 1
        used[0] += node.e[i].val - node.e[i].key + 1


# -- LEB128 and big-endian helpers ------------------------------------------


cdef inline Py_ssize_t put_varint(unsigned char *buf, Py_ssize_t n, u128 v) noexcept:
    while v >= 0x80:
        buf[n] = <unsigned char>(v & 0x7F) | 0x80
        v >>= 7
        n += 1
    buf[n] = <unsigned char>v
    return n + 1


cdef Py_ssize_t get_varint(
    const unsigned char *buf, Py_ssize_t n, Py_ssize_t size, u128 *out
) except -1:
    """Read one minimal LEB128 number of at most 128 bits at buf[n]."""
    cdef u128 v = 0
    cdef int shift = 0
    cdef unsigned char byte
    while True:
        if n >= size:
            raise ValueError("bitmap encoding is truncated")
        byte = buf[n]
        n += 1
        if shift == 126 and byte > 3:
            raise ValueError("bitmap encoding has a number over 128 bits")
        v |= <u128>(byte & 0x7F) << shift
        if byte < 0x80:
            if byte == 0 and shift > 0:
                raise ValueError("bitmap encoding has a padded number")
            out[0] = v
            return n
        shift += 7


cdef inline uint64_t get_be64(const unsigned char *b) noexcept nogil:
    cdef uint64_t v = 0
    cdef int i
    for i in range(8):
        v = (v << 8) | b[i]
    return v


cdef inline uint32_t get_be32(const unsigned char *b) noexcept nogil:
    return (<uint32_t>b[0] << 24) | (<uint32_t>b[1] << 16) | (
        <uint32_t>b[2] << 8
    ) | b[3]


cdef inline void put_be64(unsigned char *b, uint64_t v) noexcept nogil:
    cdef int i
    for i in range(7, -1, -1):
        b[i] = v & 0xFF
        v >>= 8


cdef inline void put_be32(unsigned char *b, uint32_t v) noexcept nogil:
    b[0] = v >> 24
    b[1] = (v >> 16) & 0xFF
    b[2] = (v >> 8) & 0xFF
    b[3] = v & 0xFF


# -- libnetwork's bitseq layout ---------------------------------------------


ctypedef struct LnWriter:
    unsigned char *buf
    Py_ssize_t size
    Py_ssize_t n            # bytes written
    uint64_t block          # index of the block being assembled
    uint32_t bits           # its bits so far


cdef void ln_emit(LnWriter *w, uint32_t block, uint64_t count) noexcept:
    """Append count copies of block, merged into the last entry if equal."""
    if count == 0:
        return
    if w.n > 16 and get_be32(w.buf + w.n - 12) == block:
        put_be64(w.buf + w.n - 8, get_be64(w.buf + w.n - 8) + count)
        return
    put_be32(w.buf + w.n, block)
    put_be64(w.buf + w.n + 4, count)
    w.n += 12


cdef void ln_flush(LnWriter *w, uint64_t upto) noexcept:
    """Write the block being assembled and zero blocks up to block upto."""
    ln_emit(w, w.bits, 1)
    ln_emit(w, 0, upto - w.block - 1)
    w.block = upto
    w.bits = 0


cdef inline uint32_t ln_mask(int lo, int hi) noexcept nogil:
    """Bits lo..hi of a block, bit 0 being the most significant."""
    return (<uint32_t>0xFFFFFFFF >> lo) & (<uint32_t>0xFFFFFFFF << (31 - hi))


cdef void ln_mark(LnWriter *w, uint64_t a, uint64_t b) noexcept:
    """Add used run [a, b]; runs come in ascending order."""
    cdef uint64_t first = a >> 5
    cdef uint64_t last = b >> 5
    if first != w.block:
        ln_flush(w, first)
    if first == last:
        w.bits |= ln_mask(a & 31, b & 31)
        return
    w.bits |= ln_mask(a & 31, 31)
    ln_emit(w, w.bits, 1)
    ln_emit(w, 0xFFFFFFFF, last - first - 1)
    w.block = last
    w.bits = ln_mask(0, b & 31)


cdef int check_libnetwork(
    const unsigned char *buf, Py_ssize_t size, uint64_t bits, object max_runs
) except -1:
    """Validate the entries before anything is built from them."""
    cdef Py_ssize_t off
    cdef uint32_t block
    cdef uint64_t count
    cdef u128 blocks = 0
    cdef u128 runs = 1
    cdef u128 needed = (<u128>bits + 31) >> 5
    cdef int tail = <int>(needed * 32 - bits)
    cdef uint32_t last_block = 0
    cdef u128 limit
    if u128_from_object(max(max_runs, 0), &limit):
        limit = <u128>0 - 1
    for off in range(16, size, 12):
        block = get_be32(buf + off)
        count = get_be64(buf + off + 4)
        if count == 0:
            continue
        blocks += count
        last_block = block
        if block == 0 or block == 0xFFFFFFFF:
            runs += 2
        else:
            runs += <u128>count * (popcount((block ^ (block >> 1)) & 0x7FFFFFFF) + 2)
    if blocks != needed:
        raise ValueError(
            f"libnetwork bitmap holds {u128_to_object(blocks)} blocks"
            f" where {bits} bits need {u128_to_object(needed)}"
        )
    if tail and last_block & ((<uint32_t>1 << tail) - 1):
        raise ValueError("libnetwork bitmap sets ordinals past its bit count")
    if runs > limit:
        raise ValueError(f"libnetwork bitmap decodes to over {max_runs} runs")
    return 0


cdef inline int popcount(uint32_t v) noexcept nogil:
    cdef int n = 0
    while v:
        v &= v - 1
        n += 1
    return n
