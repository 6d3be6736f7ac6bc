# Declarations of the compiled allocator core; the algorithms live in
# _bitmap.pyx.  The core knows ordinals only: whole numbers in [0, bits).

from libc.stdint cimport uintptr_t

cdef extern from *:
    """
    typedef unsigned __int128 ipam_u128;
    typedef struct ipam_entry { ipam_u128 key; ipam_u128 val; } ipam_entry;
    typedef struct ipam_node { int n; int cap; ipam_entry e[]; } ipam_node;
    #define IPAM_PREFETCH(p) __builtin_prefetch(p)
    #define IPAM_NODE_SIZE(cap) \
        (sizeof(ipam_node) + (size_t)(cap) * sizeof(ipam_entry))
    """
    # Cython is told that the 128-bit type is an unsigned long long so that
    # it allows arithmetic on it.  The C compiler sees the real type.  Never
    # let Cython convert a u128 to or from a Python object on its own: go
    # through u128_from_object() and u128_to_object() in _bitmap.pyx.
    ctypedef unsigned long long u128 "ipam_u128"

    # In a leaf, key and val are the first and last ordinal of one used run.
    # In an inner node, key is the lowest run start below child val (a
    # pointer stored as an integer), so one node layout serves both.
    ctypedef struct Entry "ipam_entry":
        u128 key
        u128 val

    ctypedef struct Node "ipam_node":
        int n
        int cap
        Entry e[1]

    size_t NODE_SIZE "IPAM_NODE_SIZE"(int cap)
    void prefetch "IPAM_PREFETCH"(const void *p) noexcept nogil


cdef enum:
    # Entries a node other than a small root leaf holds at rest.  Such nodes
    # are allocated with one slot more, so that an insertion can always be
    # made first and the split done after.
    CAP = 32
    # Fewest entries of a node that is not the root.
    MIN_FILL = 8
    # Capacity of the root leaf of a new bitmap; it doubles up to CAP + 1.
    # Keeps the thousands of small bitmaps of an allocator cheap.
    ROOT_START = 4
    # Deeper than any tree that fits in memory: MIN_FILL**MAX_DEPTH runs.
    MAX_DEPTH = 48


# A B+tree of the used runs, ordered by start.
ctypedef struct Tree:
    Node *root
    int height              # 0 when the root is a leaf
    Py_ssize_t count        # number of used runs
    Node *spare             # nodes allocated ahead of a split, chained


# The way from the root to one leaf entry: node[d] is the node at depth d and
# idx[d] the entry taken there; node[height] is the leaf and idx[height] the
# entry in it (-1 for "before the first entry").
ctypedef struct Path:
    Node *node[MAX_DEPTH]
    int idx[MAX_DEPTH]

