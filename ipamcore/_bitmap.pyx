# cython: language_level=3
"""The compiled allocator core: a run-length-encoded bitmap of ordinals.

`Bitmap` holds ``bits`` ordinals, ``1 <= bits <= 2**128``, each used or free.
The used ordinals are kept in a B+tree ordered by position whose leaf
entries are of two kinds:

* a run entry: a stretch of consecutive used ordinals, stored as its first
  and last ordinal whatever its length;
* a chunk: one aligned block of 4096 ordinals stored as a plain bitmap, for
  a block so fragmented that its runs would cost more than its bits.

Free ordinals are whatever no entry marks used.  A single operation costs
O(log E) in the number of entries E, plus at most one pass over a chunk's
64 words, whatever ``bits`` is.  E is at most the number of used runs and
usually far less where runs are dense; memory is O(E).

Ranges are inclusive everywhere: ``(start, end)`` covers both ends.  A
"used run" is a maximal stretch of used ordinals; a run entry may be only
part of one, where it touches a chunk.

Invariants, checked by ``_check_invariants``:

* entries are disjoint, ordered by key, and inside ``[0, last]``;
* two run entries never touch: at least one free ordinal lies between;
* a chunk covers a whole aligned block inside the bitmap, is neither empty
  nor full (such a block is a run entry or nothing), and its summary words
  match its bits;
* every leaf lies at depth ``height``; the key of an inner entry equals the
  first key of its child; a node other than the root holds ``MIN_FILL`` to
  ``CAP`` entries, an inner root at least two; only leaves mark chunks;
* ``count``, ``used`` and ``used_runs`` are exact.

Memory: a run entry takes 32 bytes in a node that is at least a quarter
full, a chunk 536 bytes more.  A block turns into a chunk once more than
``DENSIFY`` runs would start in it, so a fragmented stretch costs about one
bit per ordinal and a sparse one about 40 bytes per used run.

Atomicity: no method releases the GIL or calls back into Python code once it
starts changing the tree, and memory a change needs is allocated before the
change begins, so each call is atomic with respect to other Python threads,
and a call that raises leaves the bitmap as it was.  Turning a block into a
chunk or back is an optimisation done after the change; when memory for it
is short it is skipped, never half done.  The module does not declare itself
free-threading safe, so a free-threaded interpreter keeps the GIL enabled
while it is loaded.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.exc cimport PyErr_Clear, PyErr_Occurred
from cpython.long cimport PyLong_FromUnsignedLongLong
from libc.stdint cimport uint32_t, uint64_t, uintptr_t
from libc.stdlib cimport calloc, free, malloc, realloc
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


# -- words and chunks -------------------------------------------------------


cdef uint64_t ALL = <uint64_t>-1


cdef inline uint64_t below(int k) noexcept nogil:
    """Bits 0 .. k - 1 of a word, for 0 <= k < 64."""
    return ((<uint64_t>1) << k) - 1


cdef inline uint64_t span_mask(unsigned lo, unsigned hi, unsigned i) noexcept nogil:
    """The bits of word i that lie in the chunk offsets [lo, hi]."""
    cdef uint64_t m = ALL
    if i == lo >> 6:
        m &= ALL << (lo & 63)
    if i == hi >> 6:
        m &= ALL >> (63 - (hi & 63))
    return m


cdef inline bint chunk_test(Chunk *c, unsigned i) noexcept nogil:
    return (c.w[i >> 6] >> (i & 63)) & 1


cdef void chunk_set(Chunk *c, unsigned lo, unsigned hi) noexcept nogil:
    """Mark free offsets [lo, hi] used, keeping the summaries and runs exact."""
    cdef unsigned i
    c.runs += 1
    c.runs -= lo > 0 and chunk_test(c, lo - 1)
    c.runs -= hi < CHUNK_LAST and chunk_test(c, hi + 1)
    for i in range(lo >> 6, (hi >> 6) + 1):
        c.w[i] |= span_mask(lo, hi, i)
        c.some |= (<uint64_t>1) << i
        if c.w[i] == ALL:
            c.full |= (<uint64_t>1) << i


cdef unsigned chunk_clear(Chunk *c, unsigned lo, unsigned hi) noexcept nogil:
    """Mark offsets [lo, hi] free; return how many of them were used.

    The runs that met [lo, hi] go, but for the parts left outside it.
    """
    cdef unsigned i
    cdef unsigned cleared = 0
    cdef uint64_t m
    c.runs -= chunk_starts(c, lo, hi, False)
    c.runs += lo > 0 and chunk_test(c, lo - 1) and chunk_test(c, lo)
    c.runs += hi < CHUNK_LAST and chunk_test(c, hi) and chunk_test(c, hi + 1)
    for i in range(lo >> 6, (hi >> 6) + 1):
        m = span_mask(lo, hi, i)
        cleared += popcount64(c.w[i] & m)
        c.w[i] &= ~m
        c.full &= ~((<uint64_t>1) << i)
        if c.w[i] == 0:
            c.some &= ~((<uint64_t>1) << i)
    return cleared


cdef unsigned chunk_count(Chunk *c, unsigned lo, unsigned hi) noexcept nogil:
    """Return how many offsets of [lo, hi] are used."""
    cdef unsigned i
    cdef unsigned count = 0
    for i in range(lo >> 6, (hi >> 6) + 1):
        count += popcount64(c.w[i] & span_mask(lo, hi, i))
    return count


cdef unsigned chunk_starts(Chunk *c, unsigned lo, unsigned hi, bint before) noexcept nogil:
    """Count the used runs that start in [lo, hi], taking lo - 1 as `before`.

    A used offset starts a run when the offset below it is free; for lo the
    caller says what lies below, as it may lie outside the chunk.
    """
    cdef unsigned i
    cdef unsigned starts = 0
    cdef uint64_t carry = 0
    cdef uint64_t shifted
    cdef uint64_t lo_bit = (<uint64_t>1) << (lo & 63)
    for i in range(lo >> 6, (hi >> 6) + 1):
        shifted = (c.w[i] << 1) | carry
        if i == lo >> 6:
            shifted = (shifted & ~lo_bit) | (lo_bit if before else 0)
        starts += popcount64(c.w[i] & ~shifted & span_mask(lo, hi, i))
        carry = c.w[i] >> 63
    return starts


cdef int chunk_find_free(Chunk *c, unsigned lo, unsigned hi) noexcept nogil:
    """Return the lowest free offset of [lo, hi], or -1."""
    cdef unsigned i = lo >> 6
    cdef uint64_t w = ~c.w[i] & (ALL << (lo & 63))
    cdef uint64_t rest
    cdef unsigned x
    if w == 0:
        # The full summary finds the next word with a free bit at once.
        rest = ~c.full & (ALL << i << 1) if i < 63 else 0
        if rest == 0:
            return -1
        i = ctz64(rest)
        w = ~c.w[i]
    x = (i << 6) | ctz64(w)
    return x if x <= hi else -1


cdef int chunk_find_used(Chunk *c, unsigned lo, unsigned hi) noexcept nogil:
    """Return the lowest used offset of [lo, hi], or -1."""
    cdef unsigned i = lo >> 6
    cdef uint64_t w = c.w[i] & (ALL << (lo & 63))
    cdef uint64_t rest
    cdef unsigned x
    if w == 0:
        rest = c.some & (ALL << i << 1) if i < 63 else 0
        if rest == 0:
            return -1
        i = ctz64(rest)
        w = c.w[i]
    x = (i << 6) | ctz64(w)
    return x if x <= hi else -1


cdef Chunk *chunk_clone(Chunk *c) noexcept nogil:
    """Return a copy of c, or NULL when memory is short."""
    cdef Chunk *copy = <Chunk *>malloc(sizeof(Chunk))
    if copy != NULL:
        memcpy(copy, c, sizeof(Chunk))
    return copy


# -- nodes ------------------------------------------------------------------


cdef inline Node *child(Node *node, int i) noexcept nogil:
    return <Node *><uintptr_t>node.e[i].val


cdef inline u128 as_val(const void *pointer) noexcept nogil:
    return <u128><uintptr_t>pointer


cdef inline bint is_dense(Node *leaf, int i) noexcept nogil:
    return (leaf.dense >> i) & 1


cdef inline Chunk *chunk_of(Entry *e) noexcept nogil:
    return <Chunk *><uintptr_t>e.val


cdef inline u128 end_of(Node *leaf, int i) noexcept nogil:
    """Return the last ordinal that leaf entry i covers."""
    if is_dense(leaf, i):
        return leaf.e[i].key + CHUNK_LAST
    return leaf.e[i].val


cdef inline bint starts_used(Node *leaf, int i) noexcept nogil:
    """Whether the first ordinal of leaf entry i is used."""
    return not is_dense(leaf, i) or chunk_of(&leaf.e[i]).w[0] & 1


cdef inline bint ends_used(Node *leaf, int i) noexcept nogil:
    """Whether the last ordinal of leaf entry i is used."""
    return not is_dense(leaf, i) or chunk_of(&leaf.e[i]).w[CHUNK_WORDS - 1] >> 63


cdef inline int upper(Node *node, u128 x) noexcept nogil:
    """Return how many entries of node have a key of at most x."""
    cdef int base = 0
    cdef int n = node.n
    cdef int half
    cdef const char *line = <const char *>&node.e[0]
    cdef const char *stop = <const char *>&node.e[node.n]
    # A binary search's probes depend on each other, so in a node that is
    # not in cache each would wait for memory in turn.  Asking for every
    # 64-byte line at once lets those loads overlap.
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
    node.dense = 0
    return node


cdef void free_tree(Node *node, int height) noexcept nogil:
    """Free the subtree below node, chunks included."""
    cdef int i
    if node == NULL:
        return
    for i in range(node.n):
        if height > 0:
            free_tree(child(node, i), height - 1)
        elif is_dense(node, i):
            free(chunk_of(&node.e[i]))
    free(node)


cdef Node *clone_tree(Node *node, int height) except NULL:
    """Return a deep copy of the subtree below node."""
    cdef Node *copy = new_node(node.cap)
    cdef int i
    memcpy(copy, node, NODE_SIZE(node.cap))
    # Until entry i is copied, copy owns entries below i only, so that a
    # failure frees exactly what was made.
    copy.n = 0
    for i in range(node.n):
        if height > 0:
            try:
                copy.e[i].val = as_val(clone_tree(child(node, i), height - 1))
            except MemoryError:
                free_tree(copy, height)
                raise
        elif is_dense(node, i):
            copy.e[i].val = as_val(chunk_clone(chunk_of(&node.e[i])))
            if copy.e[i].val == 0:
                free_tree(copy, height)
                raise MemoryError
        copy.n = i + 1
    return copy


# -- walking the tree -------------------------------------------------------


cdef void descend(Tree *t, u128 x, Path *p) noexcept nogil:
    """Fill p with the way to the last entry whose key is at most x."""
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
    """Fill p with the way to the first entry."""
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


cdef bint step_left(Tree *t, Path *p) noexcept nogil:
    """Move p to the last entry of the previous leaf; False at the first."""
    cdef int d = t.height - 1
    cdef Node *node
    while d >= 0 and p.idx[d] == 0:
        d -= 1
    if d < 0:
        return False
    p.idx[d] -= 1
    node = child(p.node[d], p.idx[d])
    for d in range(d + 1, t.height + 1):
        p.node[d] = node
        p.idx[d] = node.n - 1
        if d < t.height:
            node = child(node, node.n - 1)
    return True


cdef inline bint step(Tree *t, Path *p) noexcept nogil:
    """Move p to the next entry; False if it was at the last."""
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


cdef inline bint dense_at(Tree *t, Path *p) noexcept nogil:
    return is_dense(p.node[t.height], p.idx[t.height])


cdef inline u128 end_at(Tree *t, Path *p) noexcept nogil:
    return end_of(p.node[t.height], p.idx[t.height])


cdef bint peek_next(Tree *t, Path *p, Node **leaf, int *i) noexcept nogil:
    """Find the entry after the one at p without moving p; False if none."""
    cdef Path q
    if p.idx[t.height] + 1 < p.node[t.height].n:
        leaf[0] = p.node[t.height]
        i[0] = p.idx[t.height] + 1
        return True
    copy_path(t, &q, p)
    if not step_right(t, &q):
        return False
    leaf[0] = q.node[t.height]
    i[0] = 0
    return True


cdef inline bint step_back(Tree *t, Path *p) noexcept nogil:
    """Move p to the previous entry; False if it was at the first."""
    if p.idx[t.height] > 0:
        p.idx[t.height] -= 1
        return True
    return step_left(t, p)


cdef bint used_below(Tree *t, Path *p) noexcept nogil:
    """Whether the ordinal just below the entry at p is used."""
    cdef Path q
    cdef u128 key = at(t, p).key
    if key == 0:
        return False
    copy_path(t, &q, p)
    if not step_back(t, &q):
        return False
    return end_at(t, &q) == key - 1 and ends_used(q.node[t.height], q.idx[t.height])


cdef bint used_above(Tree *t, Path *p) noexcept nogil:
    """Whether the ordinal just above the entry at p is used."""
    cdef Node *leaf
    cdef int i
    cdef u128 end = end_at(t, p)
    if not peek_next(t, p, &leaf, &i):
        return False
    return leaf.e[i].key - 1 == end and starts_used(leaf, i)


cdef inline bint used_at(Tree *t, Path *p, u128 x) noexcept nogil:
    """Whether x is used, p being the way descend(x) gives."""
    cdef Entry *e
    if p.idx[t.height] < 0:
        return False
    e = at(t, p)
    if dense_at(t, p):
        return x - e.key <= CHUNK_LAST and chunk_test(chunk_of(e), x - e.key)
    return e.val >= x


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
    """Allocate what inserting one entry into the leaf of p may need.

    Called before anything changes, so that running out of memory leaves the
    tree as it was.  Only the root leaf is ever allocated below CAP + 1
    slots; it grows in place.  Otherwise one spare node is kept ready for
    every full node on the way up, and one more for a new root.
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
        node = child(node, 0)
    while d < need:
        node = new_node(CAP + 1)
        node.e[0].val = as_val(t.spare)
        t.spare = node
        d += 1
    return 0


cdef inline Node *take_spare(Tree *t) noexcept nogil:
    cdef Node *node = t.spare
    t.spare = child(node, 0)
    node.n = 0
    node.dense = 0
    return node


cdef void insert_at(Tree *t, Path *p, int pos, u128 key, u128 val) noexcept nogil:
    """Insert run entry (key, val) at position pos of the leaf of p.

    reserve() must have run on p.  Nodes over CAP are split bottom-up; a
    node that grew at its end keeps all but MIN_FILL entries, so that runs
    added in ascending order fill their leaves.
    """
    cdef int level = t.height
    cdef Node *node = p.node[level]
    cdef Node *right
    cdef int k
    memmove(&node.e[pos + 1], &node.e[pos], (node.n - pos) * sizeof(Entry))
    node.e[pos].key = key
    node.e[pos].val = val
    node.dense = (node.dense & below(pos)) | ((node.dense & ~below(pos)) << 1)
    node.n += 1
    t.count += 1
    if pos == 0:
        fix_keys(p, level)
    while node.n > CAP:
        right = take_spare(t)
        k = node.n - MIN_FILL if pos == node.n - 1 else node.n // 2
        right.n = node.n - k
        memcpy(&right.e[0], &node.e[k], right.n * sizeof(Entry))
        right.dense = node.dense >> k
        node.dense &= below(k)
        node.n = k
        if level == 0:
            grow_root(t, node, right)
            return
        level -= 1
        node = p.node[level]
        pos = p.idx[level] + 1
        memmove(&node.e[pos + 1], &node.e[pos], (node.n - pos) * sizeof(Entry))
        node.e[pos].key = right.e[0].key
        node.e[pos].val = as_val(right)
        node.n += 1


cdef void grow_root(Tree *t, Node *left, Node *right) noexcept nogil:
    """Put a new root above the two halves of the old one."""
    cdef Node *root = take_spare(t)
    root.n = 2
    root.e[0].key = left.e[0].key
    root.e[0].val = as_val(left)
    root.e[1].key = right.e[0].key
    root.e[1].val = as_val(right)
    t.root = root
    t.height += 1


cdef void remove_at(Tree *t, Path *p, int pos) noexcept nogil:
    """Remove entry pos of the leaf of p, then restore the fill of the nodes.

    A chunk's memory is the caller's to free.
    """
    cdef int level = t.height
    cdef Node *node = p.node[level]
    memmove(&node.e[pos], &node.e[pos + 1], (node.n - pos - 1) * sizeof(Entry))
    node.dense = (node.dense & below(pos)) | ((node.dense >> 1) & ~below(pos))
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
    cdef int li
    while level > 0 and p.node[level].n < MIN_FILL:
        parent = p.node[level - 1]
        li = p.idx[level - 1]
        if li + 1 >= parent.n:
            li -= 1
        left = child(parent, li)
        right = child(parent, li + 1)
        if left.n + right.n > CAP:
            if left == p.node[level]:
                borrow_right(left, right)
            else:
                borrow_left(left, right)
            parent.e[li + 1].key = right.e[0].key
            return
        merge_into(left, right)
        memmove(
            &parent.e[li + 1],
            &parent.e[li + 2],
            (parent.n - li - 2) * sizeof(Entry),
        )
        parent.n -= 1
        level -= 1
    if level == 0 and t.height > 0 and t.root.n == 1:
        left = t.root
        t.root = child(left, 0)
        t.height -= 1
        free(left)


cdef void merge_into(Node *left, Node *right) noexcept nogil:
    """Append right's entries to left and free right."""
    memcpy(&left.e[left.n], &right.e[0], right.n * sizeof(Entry))
    left.dense |= right.dense << left.n
    left.n += right.n
    free(right)


cdef void borrow_right(Node *left, Node *right) noexcept nogil:
    """Move entries from right to the short left until both hold about as many.

    Evening out rather than moving one entry means that a node which keeps
    shrinking (the front of the tree under set_any) does not borrow again on
    every call.
    """
    cdef int k = (right.n - left.n) // 2
    memcpy(&left.e[left.n], &right.e[0], k * sizeof(Entry))
    left.dense |= (right.dense & below(k)) << left.n
    left.n += k
    right.n -= k
    memmove(&right.e[0], &right.e[k], right.n * sizeof(Entry))
    right.dense >>= k


cdef void borrow_left(Node *left, Node *right) noexcept nogil:
    """Move entries from left to the short right until both hold about as many."""
    cdef int k = (left.n - right.n) // 2
    memmove(&right.e[k], &right.e[0], right.n * sizeof(Entry))
    right.dense = (right.dense << k) | (left.dense >> (left.n - k))
    right.n += k
    left.n -= k
    left.dense &= below(left.n)
    memcpy(&right.e[0], &left.e[left.n], k * sizeof(Entry))


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
        TypeError: bits is not an integer, or the bitmap was built already.
        ValueError: bits is outside [1, 2**128].

    >>> bm = Bitmap(8)
    >>> bm.set_any(), bm.set_any()
    (0, 1)
    >>> bm
    Bitmap(bits=8, free=6, runs=2)
    """

    cdef Tree tree
    cdef u128 last              # highest ordinal: bits - 1
    cdef u128 used              # used ordinals, modulo 2**128 (see free)
    cdef u128 serial_from       # where the next serial search starts
    cdef Py_ssize_t used_runs   # maximal stretches of used ordinals
    cdef bint built             # __init__ has run

    def __cinit__(self, *args, **kwargs):
        self.tree.root = new_node(ROOT_START)

    def __init__(self, bits):
        cdef u128 count = 0
        if self.built:
            raise TypeError("a Bitmap is built once; make a new one instead")
        if u128_from_object(bits, &count) == 0 and count > 0:
            self.last = count - 1
        elif operator.index(bits) == MAX_BITS:
            self.last = <u128>0 - 1
        else:
            raise ValueError(f"bits must be in [1, 2**128], got {bits!r}")
        self.built = True

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
        # used counts modulo 2**128, so a full bitmap of 2**128 ordinals
        # reads as empty; a full bitmap is one run entry over everything.
        if self.tree.count == 1:
            descend_first(&self.tree, &p)
            if not dense_at(&self.tree, &p) and at(&self.tree, &p).key == 0:
                if at(&self.tree, &p).val == self.last:
                    return 0
        return u128_to_object(self.last - self.used) + 1

    @property
    def runs(self):
        """Number of runs, used and free, in the run-length encoding."""
        if self.used_runs == 0:
            return 1
        return 2 * self.used_runs + 1 - self._used(0) - self._used(self.last)

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
        if u128_from_object(ordinal, &x) or x > self.last:
            return False
        return self._used(x)

    def __contains__(self, ordinal):
        """``ordinal in bitmap``: the same as is_set(ordinal)."""
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
        cdef u128 a, b, x
        self._search_range(start, end, &a, &b)
        if self._find_used(a, b, &x):
            return u128_to_object(x)
        return None

    def ranges(self):
        """Return an iterator over the used ranges ``(start, end)``, ascending.

        Each step finds the first used ordinal past the range yielded last,
        so changing the bitmap while iterating is safe.  Each step costs
        O(log E), the whole iteration O(R log E) for R used runs.
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
        if self._add_one(x):
            raise BitAllocatedError(f"ordinal {ordinal} is already used")

    def unset(self, ordinal):
        """Mark ordinal free; return True if it was used.

        Raises:
            IndexError: ordinal is outside [0, bits).
        """
        cdef u128 x
        self._ordinal(ordinal, &x)
        return self._remove_one(x) == 1

    def set_range(self, start, end):
        """Mark every ordinal of the inclusive range used, or none of them.

        Raises:
            BitAllocatedError: some ordinal of the range is already used; the
                bitmap is unchanged.
            IndexError: start or end is outside [0, bits).
            ValueError: end < start.
        """
        cdef u128 a, b
        cdef u128 x
        self._range(start, end, &a, &b)
        if self._find_used(a, b, &x):
            raise BitAllocatedError(
                f"ordinal {u128_to_object(x)} of range [{start}, {end}] is used"
            )
        self._fill(a, b)

    def unset_range(self, start, end):
        """Mark every ordinal of the inclusive range free.

        Costs O(k log E) for the k entries the range meets.

        Returns:
            How many of them were used.

        Raises:
            IndexError: start or end is outside [0, bits).
            ValueError: end < start.
        """
        cdef u128 a, b
        self._range(start, end, &a, &b)
        if a == b:
            return self._remove_one(a)
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
        """Return an independent copy, serial cursor included; O(E)."""
        cdef Bitmap other = Bitmap.__new__(Bitmap)
        cdef Node *root = clone_tree(self.tree.root, self.tree.height)
        free(other.tree.root)
        other.tree.root = root
        other.tree.height = self.tree.height
        other.tree.count = self.tree.count
        other.last = self.last
        other.used = self.used
        other.serial_from = self.serial_from
        other.used_runs = self.used_runs
        other.built = True
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
        """Return the compact, versioned, checksummed encoding; O(R log E).

        Layout: ``b"IPMB"``, a version byte, then LEB128 numbers (highest
        ordinal, serial cursor, used run count, then per used run the free
        stretch before it and its length minus one), then the CRC-32 of all
        that, little-endian.  The layout does not depend on how the runs are
        stored, so equal bitmaps encode equally.
        """
        cdef Py_ssize_t size = 5 + VARINT_MAX * (3 + 2 * self.used_runs) + 4
        cdef unsigned char *buf = <unsigned char *>malloc(size)
        cdef Py_ssize_t n
        if buf == NULL:
            raise MemoryError
        try:
            memcpy(buf, PyBytes_AS_STRING(MAGIC), 4)
            buf[4] = VERSION
            n = put_varint(buf, 5, self.last)
            n = put_varint(buf, n, self.serial_from)
            n = put_varint(buf, n, <u128>self.used_runs)
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
        bm.built = True
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
        """Return the byte layout of libnetwork's bitseq handle; O(R log E).

        A 16-byte big-endian header (bit count, free count), then entries of
        a 32-bit block (its most significant bit is the lowest ordinal) and
        a 64-bit repeat count, equal neighbouring blocks merged.

        Raises:
            ValueError: the bitmap has 2**64 bits or more.
        """
        cdef LnWriter w
        if self.last >> 64 != 0 or self.last == <u128>(<uint64_t>-1):
            raise ValueError("the libnetwork layout holds fewer than 2**64 bits")
        # A used run adds at most four entries: the block it starts in, the
        # full blocks, the block it ends in and the empty blocks after it.
        w.size = 16 + 12 * (4 * self.used_runs + 4)
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
            TypeError: data is not bytes-like, or max_runs not an integer.
            ValueError: data is malformed, its repeat counts do not add up
                to the bit count, it sets ordinals past the bit count, or it
                decodes to more than max_runs runs; or max_runs is negative.
        """
        cdef bytes raw = bytes(memoryview(data))
        cdef const unsigned char *buf = <const unsigned char *>PyBytes_AS_STRING(raw)
        cdef Py_ssize_t size = len(raw)
        cdef Bitmap bm = Bitmap.__new__(Bitmap)
        cdef uint64_t bits
        limit = operator.index(max_runs)
        if limit < 0:
            raise ValueError(f"max_runs must not be negative, got {max_runs!r}")
        bm.built = True
        if size < 16 or (size - 16) % 12 != 0:
            raise ValueError(f"libnetwork bitmap of {size} bytes is malformed")
        bits = get_be64(buf)
        if bits == 0:
            raise ValueError("libnetwork bitmap declares zero bits")
        bm.last = bits - 1
        check_libnetwork(buf, size, bits, limit)
        bm._read_libnetwork(buf, size)
        return bm

    # -- arguments ------------------------------------------------------

    cdef int _ordinal(self, object obj, u128 *out) except -1:
        """Read an ordinal that must lie in the bitmap: IndexError if not.

        The contract gives IndexError for an ordinal outside the bitmap.
        """
        if u128_from_object(obj, out) or out[0] > self.last:
            raise IndexError(f"ordinal {obj!r} outside the bitmap [0, {self.bits})")
        return 0

    cdef int _range(self, object start, object end, u128 *a, u128 *b) except -1:
        """Read a range to change: IndexError outside, ValueError reversed."""
        self._ordinal(start, a)
        self._ordinal(end, b)
        if b[0] < a[0]:
            raise ValueError(f"range end {end!r} is below its start {start!r}")
        return 0

    cdef int _search_range(self, object start, object end, u128 *a, u128 *b) except -1:
        """Read a range to search: any bad range is a ValueError.

        The contract gives ValueError for set_any_in_range with end < start
        or end >= bits; find_free and find_used follow it.
        """
        if u128_from_object(start, a):
            raise ValueError(f"range start {start!r} outside [0, {self.bits})")
        if u128_from_object(end, b) or b[0] > self.last:
            raise ValueError(f"range end {end!r} outside [0, {self.bits})")
        if b[0] < a[0]:
            raise ValueError(f"range end {end!r} is below its start {start!r}")
        return 0

    # -- searching ------------------------------------------------------

    cdef bint _used(self, u128 x) noexcept:
        """Whether ordinal x (inside the bitmap) is used."""
        cdef Path p
        descend(&self.tree, x, &p)
        return used_at(&self.tree, &p, x)

    cdef bint _find_free(self, u128 a, u128 b, u128 *x, Path *p) noexcept:
        """Find the lowest free ordinal of [a, b]; p is left as descend(x) gives.

        Entries that touch are passed one after the other; that ends at the
        first chunk, which always has a free ordinal, or at a gap.
        """
        cdef Tree *t = &self.tree
        cdef Entry *e
        cdef Node *leaf
        cdef int i
        cdef u128 end
        if a == 0:
            descend_start(t, p)
        else:
            descend(t, a, p)
        if p.idx[t.height] < 0:
            x[0] = a
            return True
        while True:
            e = at(t, p)
            end = end_at(t, p)
            if end < a:
                x[0] = a
                return True
            if dense_at(t, p):
                i = chunk_find_free(chunk_of(e), a - e.key, min(b, end) - e.key)
                if i >= 0:
                    x[0] = e.key + i
                    return True
            if end >= b:
                return False
            a = end + 1
            if not peek_next(t, p, &leaf, &i) or leaf.e[i].key != a:
                x[0] = a
                return True
            step(t, p)

    cdef bint _find_used(self, u128 a, u128 b, u128 *x) noexcept:
        """Find the lowest used ordinal of [a, b]."""
        cdef Tree *t = &self.tree
        cdef Path p
        cdef Entry *e
        cdef int i
        descend(t, a, &p)
        if p.idx[t.height] >= 0 and end_at(t, &p) >= a:
            e = at(t, &p)
            if not dense_at(t, &p):
                x[0] = a
                return True
            i = chunk_find_used(chunk_of(e), a - e.key, min(b, end_at(t, &p)) - e.key)
            if i >= 0:
                x[0] = e.key + i
                return True
        if not step(t, &p) or at(t, &p).key > b:
            return False
        e = at(t, &p)
        if not dense_at(t, &p):
            x[0] = e.key
            return True
        i = chunk_find_used(chunk_of(e), 0, min(b, end_at(t, &p)) - e.key)
        x[0] = e.key + i
        return i >= 0

    cdef bint _run_from(self, u128 a, u128 *start, u128 *end) noexcept:
        """Find the first used run at or past a, given that a - 1 is free."""
        cdef Path p
        cdef u128 x
        if not self._find_used(a, self.last, start):
            return False
        if self._find_free(start[0], self.last, &x, &p):
            end[0] = x - 1
        else:
            end[0] = self.last
        return True

    cdef object _set_any(self, u128 a, u128 b, bint serial):
        """Take the lowest free ordinal of [a, b], from the cursor if serial."""
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

    cdef u128 _tally(
        self, u128 a, u128 b, Py_ssize_t *starts, bint *at_a, bint *at_b
    ) noexcept:
        """Count the used ordinals of [a, b] and the used runs that meet it.

        starts counts a used run once even if it began below a; at_a and
        at_b say whether a and b are used.
        """
        cdef Tree *t = &self.tree
        cdef Path p
        cdef Entry *e
        cdef u128 lo, hi, base
        cdef u128 count = 0
        cdef u128 pos = a
        cdef bint prev = False
        starts[0] = 0
        at_a[0] = at_b[0] = False
        descend(t, a, &p)
        if p.idx[t.height] < 0 or end_at(t, &p) < a:
            if not step(t, &p):
                return 0
        while at(t, &p).key <= b:
            e = at(t, &p)
            lo = max(e.key, a)
            hi = min(end_at(t, &p), b)
            prev = prev and lo == pos
            if dense_at(t, &p):
                base = e.key
                count += chunk_count(chunk_of(e), lo - base, hi - base)
                starts[0] += chunk_starts(chunk_of(e), lo - base, hi - base, prev)
                at_a[0] = at_a[0] or (lo == a and chunk_test(chunk_of(e), lo - base))
                prev = chunk_test(chunk_of(e), hi - base)
            else:
                count += hi - lo + 1
                starts[0] += not prev
                at_a[0] = at_a[0] or lo == a
                prev = True
            if hi == b:
                at_b[0] = prev
                break
            pos = hi + 1
            if not step(t, &p):
                break
        return count

    # -- adding ---------------------------------------------------------

    cdef int _add_one(self, u128 x) except -1:
        """Mark x used; return 1, changing nothing, if it is used already."""
        cdef Path p
        descend(&self.tree, x, &p)
        if used_at(&self.tree, &p, x):
            return 1
        return self._add_at(&p, x, x)

    cdef int _fill(self, u128 a, u128 b) except -1:
        """Mark free [a, b] used, a piece inside one chunk or gap at a time.

        A free range meets at most the end of one chunk, one gap and the
        start of another chunk.  The gap goes first: it is the only piece
        that may need memory, so running out leaves the bitmap as it was.
        Each piece counts used runs from the state it finds, so the order
        does not change the count.
        """
        cdef u128 starts[3]
        cdef u128 ends[3]
        cdef bint dense[3]
        cdef int n = self._pieces(a, b, starts, ends, dense)
        cdef int i
        for i in range(n):
            if not dense[i]:
                self._fill_piece(starts[i], ends[i])
        for i in range(n):
            if dense[i]:
                self._fill_piece(starts[i], ends[i])
        return 0

    cdef int _pieces(
        self, u128 a, u128 b, u128 *starts, u128 *ends, bint *dense
    ) noexcept:
        """Split free [a, b] at the edges of chunks; return how many pieces."""
        cdef Tree *t = &self.tree
        cdef Path p
        cdef Node *leaf
        cdef int i
        cdef int n = 0
        while True:
            descend(t, a, &p)
            dense[n] = p.idx[t.height] >= 0 and end_at(t, &p) >= a
            if dense[n]:
                ends[n] = end_at(t, &p)
            elif peek_next(t, &p, &leaf, &i):
                ends[n] = leaf.e[i].key - 1
            else:
                ends[n] = self.last
            starts[n] = a
            ends[n] = min(ends[n], b)
            n += 1
            if ends[n - 1] == b or n == 3:
                return n
            a = ends[n - 1] + 1

    cdef int _fill_piece(self, u128 a, u128 b) except -1:
        """Mark free [a, b], inside one chunk or one gap, used."""
        cdef Path p
        descend(&self.tree, a, &p)
        return self._add_at(&p, a, b)

    cdef int _add_at(self, Path *p, u128 a, u128 b) except -1:
        """Mark free [a, b] used; p is the way descend(a) gives.

        [a, b] lies inside one chunk or inside one gap between entries.
        """
        cdef Tree *t = &self.tree
        if p.idx[t.height] >= 0 and dense_at(t, p) and end_at(t, p) >= a:
            self._add_in_chunk(p, a, b)
        else:
            self._add_in_gap(p, a, b)
        return 0

    cdef int _add_in_chunk(self, Path *p, u128 a, u128 b) except -1:
        """Mark free [a, b] used inside the chunk at p."""
        cdef Tree *t = &self.tree
        cdef Chunk *c = chunk_of(at(t, p))
        cdef unsigned lo = a - at(t, p).key
        cdef unsigned hi = b - at(t, p).key
        cdef bint low = chunk_test(c, lo - 1) if lo > 0 else used_below(t, p)
        cdef bint high = chunk_test(c, hi + 1) if hi < CHUNK_LAST else used_above(t, p)
        chunk_set(c, lo, hi)
        self.used += b - a + 1
        self.used_runs += 1 - low - high
        if c.full == ALL:
            self._chunk_to_run(p)
        else:
            self._thin(p)
        return 0

    cdef int _add_in_gap(self, Path *p, u128 a, u128 b) except -1:
        """Mark free [a, b] used inside the gap after the entry at p.

        A run entry that touches [a, b] grows over it; a chunk that touches
        it stays as it is.
        """
        cdef Tree *t = &self.tree
        cdef Node *leaf = p.node[t.height]
        cdef int j = p.idx[t.height]
        cdef Path q
        cdef bint has_next
        cdef bint low = j >= 0 and end_of(leaf, j) + 1 == a
        cdef bint high = False
        cdef bint grow_low = low and not is_dense(leaf, j)
        cdef bint grow_high = False
        cdef bint crowded
        low = low and ends_used(leaf, j)
        copy_path(t, &q, p)
        has_next = step(t, &q)
        if has_next and at(t, &q).key - 1 == b:
            high = starts_used(q.node[t.height], q.idx[t.height])
            grow_high = not dense_at(t, &q)
        if grow_low and grow_high:
            leaf.e[j].val = at(t, &q).val
            remove_at(t, &q, q.idx[t.height])
        elif grow_low:
            leaf.e[j].val = b
        elif grow_high:
            at(t, &q).key = a
            if q.idx[t.height] == 0:
                fix_keys(&q, t.height)
        else:
            crowded = self._crowded(leaf, j + 1, a)
            reserve(t, p)
            insert_at(t, p, j + 1, a, b)
            if crowded:
                self._densify(a)
        self.used += b - a + 1
        self.used_runs += 1 - low - high
        return 0

    # -- removing -------------------------------------------------------

    cdef int _remove_one(self, u128 x) except -1:
        """Mark x free; return 1 if it was used, else 0."""
        cdef Tree *t = &self.tree
        cdef Path p
        cdef Entry *e
        descend(t, x, &p)
        if p.idx[t.height] < 0 or end_at(t, &p) < x:
            return 0
        if dense_at(t, &p):
            return self._remove_in_chunk(&p, x)
        e = at(t, &p)
        cdef bint low = x > e.key or used_below(t, &p)
        cdef bint high = x < e.val or used_above(t, &p)
        if e.key < x < e.val:
            self._split(&p, x, x)
        elif e.key < x:
            e.val = x - 1
        elif x < e.val:
            e.key = x + 1
            if p.idx[t.height] == 0:
                fix_keys(&p, t.height)
        else:
            remove_at(t, &p, p.idx[t.height])
        self.used -= 1
        self.used_runs += low + high - 1
        return 1

    cdef int _remove_in_chunk(self, Path *p, u128 x) except -1:
        """Mark x free inside the chunk at p; return 1 if it was used."""
        cdef Tree *t = &self.tree
        cdef Chunk *c = chunk_of(at(t, p))
        cdef unsigned i = x - at(t, p).key
        if not chunk_test(c, i):
            return 0
        cdef bint low = chunk_test(c, i - 1) if i > 0 else used_below(t, p)
        cdef bint high = chunk_test(c, i + 1) if i < CHUNK_LAST else used_above(t, p)
        chunk_clear(c, i, i)
        self.used -= 1
        self.used_runs += low + high - 1
        if c.some == 0:
            free(c)
            remove_at(t, p, p.idx[t.height])
        else:
            self._thin(p)
        return 1

    cdef int _split(self, Path *p, u128 a, u128 b) except -1:
        """Free [a, b] strictly inside the run entry at p, splitting it."""
        cdef Tree *t = &self.tree
        cdef int j = p.idx[t.height]
        cdef bint crowded = self._crowded(p.node[t.height], j + 1, b + 1)
        cdef u128 end
        reserve(t, p)
        end = at(t, p).val
        at(t, p).val = a - 1
        insert_at(t, p, j + 1, b + 1, end)
        if crowded:
            self._densify(b + 1)
        return 0

    cdef object _remove(self, u128 a, u128 b):
        """Mark [a, b] free; return how many were used, as a Python int."""
        cdef Tree *t = &self.tree
        cdef Py_ssize_t starts
        cdef bint at_a, at_b
        cdef u128 cleared = self._tally(a, b, &starts, &at_a, &at_b)
        cdef bint low = at_a and a > 0 and self._used(a - 1)
        cdef bint high = at_b and b < self.last and self._used(b + 1)
        cdef u128 x = a
        while self._clear_entry(&x, b):
            pass
        self._thin_at(a)
        self._thin_at(b)
        self.used -= cleared
        self.used_runs += low + high - starts
        # The count of a range over all 2**128 ordinals needs 129 bits.
        if cleared == 0 and at_a:
            return MAX_BITS
        return u128_to_object(cleared)

    cdef int _clear_entry(self, u128 *a, u128 b) except -1:
        """Free the part of [a, b] in the first entry that meets it.

        Moves a past that entry; returns False once no entry is left to
        meet [a, b].
        """
        cdef Tree *t = &self.tree
        cdef Path p
        cdef Entry *e
        cdef u128 end
        descend(t, a[0], &p)
        if p.idx[t.height] < 0 or end_at(t, &p) < a[0]:
            if not step(t, &p) or at(t, &p).key > b:
                return False
        e = at(t, &p)
        end = end_at(t, &p)
        if dense_at(t, &p):
            self._clear_in_chunk(&p, max(a[0], e.key), min(b, end))
        elif e.key < a[0] and b < end:
            self._split(&p, a[0], b)
        elif e.key < a[0]:
            e.val = a[0] - 1
        elif b < end:
            e.key = b + 1
            if p.idx[t.height] == 0:
                fix_keys(&p, t.height)
        else:
            remove_at(t, &p, p.idx[t.height])
        if end >= b:
            return False
        a[0] = end + 1
        return True

    cdef void _clear_in_chunk(self, Path *p, u128 a, u128 b) noexcept:
        """Free [a, b] inside the chunk at p; drop the chunk if it empties."""
        cdef Tree *t = &self.tree
        cdef Chunk *c = chunk_of(at(t, p))
        chunk_clear(c, a - at(t, p).key, b - at(t, p).key)
        if c.some == 0:
            free(c)
            remove_at(t, p, p.idx[t.height])

    # -- chunks ---------------------------------------------------------

    cdef bint _crowded(self, Node *leaf, int pos, u128 key) noexcept:
        """Whether a run entry added at pos of leaf crowds its block.

        Counts the run entries of the leaf that start in key's block; a run
        entry of the block in another leaf is not seen, so a block may wait
        a little longer to become a chunk.  A block that reaches past the
        end of the bitmap never becomes one.
        """
        cdef u128 base = key >> CHUNK_SHIFT << CHUNK_SHIFT
        cdef int i = pos
        cdef int j = pos
        if self.last - base < CHUNK_LAST:
            return False
        while i > 0 and leaf.e[i - 1].key >= base:
            i -= 1
        while j < leaf.n and leaf.e[j].key - base <= CHUNK_LAST:
            j += 1
        return j - i >= DENSIFY

    cdef void _densify(self, u128 x) noexcept:
        """Turn the block of x into a chunk, if its memory can be had.

        The first run entry inside the block becomes the chunk's entry, so
        nothing is allocated but the chunk itself; run entries reaching in
        from either side are cut at the block's edges.
        """
        cdef Tree *t = &self.tree
        cdef u128 base = x >> CHUNK_SHIFT << CHUNK_SHIFT
        cdef Path p
        cdef Path q
        cdef Chunk *c
        cdef bint below = False
        descend(t, base, &p)
        copy_path(t, &q, &p)
        if p.idx[t.height] < 0 or at(t, &p).key < base:
            below = p.idx[t.height] >= 0
            if not step(t, &q):
                return
        if at(t, &q).key - base > CHUNK_LAST or dense_at(t, &q):
            return
        if at(t, &q).val - base > CHUNK_LAST:
            return
        c = <Chunk *>calloc(1, sizeof(Chunk))
        if c == NULL:
            return
        if below and not dense_at(t, &p) and at(t, &p).val >= base:
            chunk_set(c, 0, at(t, &p).val - base)
            at(t, &p).val = base - 1
        chunk_set(c, at(t, &q).key - base, at(t, &q).val - base)
        at(t, &q).key = base
        at(t, &q).val = as_val(c)
        q.node[t.height].dense |= (<uint64_t>1) << q.idx[t.height]
        if q.idx[t.height] == 0:
            fix_keys(&q, t.height)
        while self._absorb(base, c):
            pass

    cdef bint _absorb(self, u128 base, Chunk *c) noexcept:
        """Move the next run entry inside the chunk at base into its bits.

        Returns False once no run entry starts inside the block.
        """
        cdef Tree *t = &self.tree
        cdef Path p
        descend(t, base, &p)
        if not step(t, &p) or at(t, &p).key - base > CHUNK_LAST:
            return False
        if at(t, &p).val - base > CHUNK_LAST:
            chunk_set(c, at(t, &p).key - base, CHUNK_LAST)
            at(t, &p).key = base + CHUNK_BITS
            if p.idx[t.height] == 0:
                fix_keys(&p, t.height)
            return False
        chunk_set(c, at(t, &p).key - base, at(t, &p).val - base)
        remove_at(t, &p, p.idx[t.height])
        return True

    cdef void _chunk_to_run(self, Path *p) noexcept:
        """Replace the full chunk at p by a run entry, merged with its peers."""
        cdef Tree *t = &self.tree
        cdef Entry *e = at(t, p)
        free(chunk_of(e))
        e.val = e.key + CHUNK_LAST
        p.node[t.height].dense &= ~((<uint64_t>1) << p.idx[t.height])
        self._merge_run(e.key)

    cdef void _merge_run(self, u128 key) noexcept:
        """Merge the run entry at key with run entries touching it."""
        cdef Tree *t = &self.tree
        cdef Path p
        cdef Path q
        descend(t, key, &p)
        copy_path(t, &q, &p)
        if step(t, &q) and not dense_at(t, &q) and at(t, &q).key - 1 == at(t, &p).val:
            at(t, &p).val = at(t, &q).val
            remove_at(t, &q, q.idx[t.height])
            descend(t, key, &p)
        copy_path(t, &q, &p)
        if key == 0 or not (step_back(t, &q) and not dense_at(t, &q)):
            return
        if at(t, &q).val == key - 1:
            at(t, &q).val = at(t, &p).val
            remove_at(t, &p, p.idx[t.height])

    cdef void _thin_at(self, u128 x) noexcept:
        """Give the chunk holding x, if any, the chance to turn into runs."""
        cdef Path p
        descend(&self.tree, x, &p)
        if p.idx[self.tree.height] >= 0 and dense_at(&self.tree, &p):
            self._thin(&p)

    cdef void _thin(self, Path *p) noexcept:
        """Turn the chunk at p into run entries if it holds few used runs."""
        cdef Chunk *c = chunk_of(at(&self.tree, p))
        if c.runs <= SPARSIFY:
            self._sparsify(at(&self.tree, p).key, c)

    cdef void _sparsify(self, u128 base, Chunk *c) noexcept:
        """Replace the chunk at base, of at most SPARSIFY used runs, by runs.

        The runs after the first are inserted behind the chunk's entry
        first, while the chunk still stands; if memory runs short they are
        taken out again and the chunk is kept.  The first run then takes
        over the chunk's entry.
        """
        cdef Tree *t = &self.tree
        cdef Path p
        cdef unsigned starts[SPARSIFY]
        cdef unsigned ends[SPARSIFY]
        cdef int k = chunk_runs(c, starts, ends)
        cdef int i
        for i in range(k - 1, 0, -1):
            descend(t, base, &p)
            try:
                reserve(t, &p)
            except MemoryError:
                PyErr_Clear()
                self._unsparsify(base, starts, i + 1, k)
                return
            insert_at(t, &p, p.idx[t.height] + 1, base + starts[i], base + ends[i])
        descend(t, base, &p)
        at(t, &p).key = base + starts[0]
        at(t, &p).val = base + ends[0]
        p.node[t.height].dense &= ~((<uint64_t>1) << p.idx[t.height])
        if p.idx[t.height] == 0:
            fix_keys(&p, t.height)
        free(c)
        self._merge_run(base + starts[0])
        if k > 1:
            self._merge_run(base + starts[k - 1])

    cdef void _unsparsify(self, u128 base, unsigned *starts, int first, int k) noexcept:
        """Take out the run entries starts[first:k] that _sparsify put in."""
        cdef Path p
        cdef int i
        for i in range(first, k):
            descend(&self.tree, base + starts[i], &p)
            remove_at(&self.tree, &p, p.idx[self.tree.height])

    # -- comparing and encoding -----------------------------------------

    cdef bint _same(self, Bitmap other) noexcept:
        """Whether both hold the same ordinals, size and cursor.

        Compares used runs, not entries: the same ordinals can be stored as
        runs in one bitmap and as a chunk in another.
        """
        cdef u128 a = 0
        cdef u128 start, end, start2, end2
        if (
            self.last != other.last
            or self.used != other.used
            or self.serial_from != other.serial_from
            or self.used_runs != other.used_runs
        ):
            return False
        while self._run_from(a, &start, &end):
            if not other._run_from(a, &start2, &end2):
                return False
            if start != start2 or end != end2:
                return False
            if self.last - end < 2:
                break
            a = end + 2
        return True

    cdef Py_ssize_t _put_runs(self, unsigned char *buf, Py_ssize_t n) noexcept:
        """Write each used run as its gap from the last and its length - 1."""
        cdef u128 a = 0
        cdef u128 start, end
        while self._run_from(a, &start, &end):
            n = put_varint(buf, n, start - a)
            n = put_varint(buf, n, end - start)
            if self.last - end < 2:
                break
            a = end + 2
        return n

    cdef Py_ssize_t _get_runs(
        self, const unsigned char *buf, Py_ssize_t n, Py_ssize_t size, Py_ssize_t count
    ) except -1:
        """Read count used runs written by _put_runs, checking each."""
        cdef u128 low = 0
        cdef u128 gap, length, key
        cdef Py_ssize_t i
        for i in range(count):
            n = get_varint(buf, n, size, &gap)
            n = get_varint(buf, n, size, &length)
            key = low + gap
            if key < low or key > self.last or self.last - key < length:
                raise ValueError("bitmap encoding has a run outside the bitmap")
            # Another run needs a free ordinal after this one and a used one
            # after that; checked before the sum below can wrap past 2**128.
            if i + 1 < count and self.last - (key + length) < 2:
                raise ValueError("bitmap encoding has a run outside the bitmap")
            self._fill(key, key + length)
            low = key + length + 2
        return n

    cdef int _write_libnetwork(self, LnWriter *w) except -1:
        """Write the header and every used run in libnetwork's layout."""
        cdef u128 a = 0
        cdef u128 start, end
        put_be64(w.buf, <uint64_t>(self.last + 1))
        put_be64(w.buf + 8, <uint64_t>(self.last - self.used + 1))
        w.n = 16
        w.block = 0
        w.bits = 0
        while self._run_from(a, &start, &end):
            ln_mark(w, <uint64_t>start, <uint64_t>end)
            if self.last - end < 2:
                break
            a = end + 2
        ln_flush(w, <uint64_t>(self.last >> 5) + 1)
        return 0

    cdef int _read_libnetwork(self, const unsigned char *buf, Py_ssize_t size) except -1:
        """Add the used runs of checked libnetwork entries."""
        cdef LnReader r
        cdef Py_ssize_t off
        r.pos = 0
        r.open = False
        for off in range(16, size, 12):
            self._read_entry(&r, get_be32(buf + off), get_be64(buf + off + 4))
        if r.open:
            self._fill(r.start, r.pos - 1)
        return 0

    cdef int _read_entry(self, LnReader *r, uint32_t block, uint64_t count) except -1:
        """Add the used runs of one entry: count copies of block."""
        cdef uint64_t rep
        cdef int bit
        if count == 0:
            return 0
        if block == 0 or block == 0xFFFFFFFF:
            self._read_bit(r, block != 0)
            r.pos += <u128>count * 32
            return 0
        for rep in range(count):
            for bit in range(32):
                self._read_bit(r, (block >> (31 - bit)) & 1)
                r.pos += 1
        return 0

    cdef int _read_bit(self, LnReader *r, bint used) except -1:
        """Open or close a used run at r.pos; the caller moves r.pos on."""
        if used and not r.open:
            r.start = r.pos
            r.open = True
        elif r.open and not used:
            self._fill(r.start, r.pos - 1)
            r.open = False
        return 0

    # -- for tests ------------------------------------------------------

    def _check_invariants(self):
        """Raise RuntimeError if the tree breaks one of its invariants.

        For tests; costs O(E) plus a pass over every chunk's bits.
        """
        cdef Walk w
        check_node(self.tree.root, self.tree.height, True)
        self._walk(&w)
        if w.entries != self.tree.count or w.used != self.used:
            raise RuntimeError("entry count or used count is off")
        if w.used_runs != self.used_runs:
            raise RuntimeError("used run count is off")
        if self.serial_from > self.last:
            raise RuntimeError("serial cursor outside the bitmap")

    @property
    def _height(self):
        """Height of the tree (0 when the root is a leaf); for tests."""
        return self.tree.height

    @property
    def _chunks(self):
        """Number of chunk entries; for tests."""
        cdef Walk w
        self._walk(&w)
        return w.chunks

    cdef int _walk(self, Walk *w) except -1:
        """Check every leaf entry in order, counting into w."""
        memset(w, 0, sizeof(Walk))
        w.last = self.last
        walk_entries(self.tree.root, self.tree.height, w)
        return 0


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
        cdef u128 start, end
        cdef u128 a = self.after + 1 if self.started else 0
        if self.done or (self.started and self.after >= self.bitmap.last):
            raise StopIteration
        if not self.bitmap._run_from(a, &start, &end):
            self.done = True
            raise StopIteration
        self.started = True
        self.after = end
        return (u128_to_object(start), u128_to_object(end))


cdef int chunk_runs(Chunk *c, unsigned *starts, unsigned *ends) noexcept:
    """Write the used runs of c, at most SPARSIFY, as offsets; return how many."""
    cdef int k = 0
    cdef int s, e
    cdef unsigned lo = 0
    while k < SPARSIFY:
        s = chunk_find_used(c, lo, CHUNK_LAST)
        if s < 0:
            break
        e = chunk_find_free(c, s, CHUNK_LAST)
        starts[k] = s
        ends[k] = CHUNK_LAST if e < 0 else e - 1
        k += 1
        if e < 0:
            break
        lo = e
    return k


# -- invariant checks -------------------------------------------------------


ctypedef struct Walk:
    Py_ssize_t entries
    Py_ssize_t chunks
    u128 used
    Py_ssize_t used_runs
    u128 last               # highest ordinal of the bitmap
    bint started            # an entry was seen
    u128 end                # last ordinal of the entry seen last
    bint end_used           # whether that ordinal is used
    bint end_dense          # whether that entry is a chunk


cdef void check_node(Node *node, int height, bint is_root) except *:
    cdef int i
    if node.n > CAP or node.n > node.cap:
        raise RuntimeError("node over capacity")
    if not is_root and node.n < MIN_FILL:
        raise RuntimeError("node under MIN_FILL")
    if is_root and height > 0 and node.n < 2:
        raise RuntimeError("inner root with fewer than two children")
    if height == 0:
        if node.dense >> node.n:
            raise RuntimeError("leaf marks a chunk past its entries")
        return
    if node.dense:
        raise RuntimeError("inner node marks a chunk")
    for i in range(node.n):
        if node.e[i].key != child(node, i).e[0].key:
            raise RuntimeError("inner key differs from its child's first key")
        check_node(child(node, i), height - 1, False)


cdef void walk_entries(Node *node, int height, Walk *w) except *:
    """Check the leaf entries below node in order, counting as they go."""
    cdef int i
    for i in range(node.n):
        if height > 0:
            walk_entries(child(node, i), height - 1, w)
            continue
        if w.started and node.e[i].key <= w.end:
            raise RuntimeError("entries out of order or overlapping")
        if is_dense(node, i):
            check_chunk(&node.e[i], w)
            w.chunks += 1
        else:
            check_run(&node.e[i], w)
        w.entries += 1
        w.started = True


cdef void check_run(Entry *e, Walk *w) except *:
    cdef bint touches = w.started and e.key - 1 == w.end
    if e.val < e.key or e.val > w.last:
        raise RuntimeError("run entry ends before it starts or past the bitmap")
    if touches and not w.end_dense:
        raise RuntimeError("two run entries touch")
    w.used_runs += not (touches and w.end_used)
    w.used += e.val - e.key + 1
    w.end = e.val
    w.end_used = True
    w.end_dense = False


cdef void check_chunk(Entry *e, Walk *w) except *:
    """Check one chunk bit by bit, without the chunk helpers under test."""
    cdef Chunk *c = chunk_of(e)
    cdef int i, j
    cdef bint bit
    cdef bint prev = w.started and e.key - 1 == w.end and w.end_used
    cdef Py_ssize_t count = 0
    cdef Py_ssize_t inside = 0
    cdef bint before = False
    if e.key & CHUNK_LAST or w.last - e.key < CHUNK_LAST:
        raise RuntimeError("chunk not on a whole block inside the bitmap")
    for i in range(CHUNK_WORDS):
        if ((c.full >> i) & 1) != (c.w[i] == ALL):
            raise RuntimeError("chunk's full summary is off")
        if ((c.some >> i) & 1) != (c.w[i] != 0):
            raise RuntimeError("chunk's some summary is off")
        for j in range(64):
            bit = (c.w[i] >> j) & 1
            w.used_runs += bit and not prev
            inside += bit and not before
            count += bit
            prev = before = bit
    if count == 0 or count == CHUNK_BITS:
        raise RuntimeError("chunk is empty or full")
    if inside != c.runs:
        raise RuntimeError("chunk's run count is off")
    w.used += count
    w.end = e.key + CHUNK_LAST
    w.end_used = prev
    w.end_dense = True


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


ctypedef struct LnReader:
    u128 pos                # ordinal the next bit stands for
    u128 start              # first ordinal of the open used run
    bint open               # whether a used run is open


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
    if u128_from_object(max_runs, &limit):
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
