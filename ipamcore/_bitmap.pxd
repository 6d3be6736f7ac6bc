# Declarations of the compiled allocator core; the algorithms live in
# _bitmap.pyx.  The core knows ordinals only: whole numbers in [0, bits).

from libc.stdint cimport uint64_t, uintptr_t

cdef extern from *:
    """
    typedef unsigned __int128 ipam_u128;
    typedef struct ipam_entry { ipam_u128 key; ipam_u128 val; } ipam_entry;
    typedef struct ipam_node {
        int n;
        int cap;
        unsigned long long dense;
        ipam_entry e[];
    } ipam_node;
    typedef struct ipam_chunk {
        unsigned long long full;
        unsigned long long some;
        unsigned int runs;
        unsigned long long w[64];
    } ipam_chunk;
    #define IPAM_PREFETCH(p) __builtin_prefetch(p)
    #define IPAM_NODE_SIZE(cap) \
        (sizeof(ipam_node) + (size_t)(cap) * sizeof(ipam_entry))
    """
    # Cython is told that the 128-bit type is an unsigned long long so that
    # it allows arithmetic on it.  The C compiler sees the real type.  Never
    # let Cython convert a u128 to or from a Python object on its own: go
    # through u128_from_object() and u128_to_object() in _bitmap.pyx.
    ctypedef unsigned long long u128 "ipam_u128"

    # A leaf entry is a run or a chunk, as the leaf's dense mask says.  For
    # a run, key and val are its first and last ordinal, all used.  For a
    # chunk, key is the first ordinal of its block and val a pointer to the
    # Chunk.  In an inner node, key is the lowest key below child val (a
    # pointer stored as an integer), so one node layout serves both.
    ctypedef struct Entry "ipam_entry":
        u128 key
        u128 val

    # dense: bit i is set when leaf entry i is a chunk; always 0 in inner
    # nodes.  A node holds at most CAP + 1 < 64 entries.
    ctypedef struct Node "ipam_node":
        int n
        int cap
        uint64_t dense
        Entry e[1]

    # One block of CHUNK_BITS ordinals, one bit each (1 = used); bit j of
    # w[i] is ordinal 64 * i + j of the block.  full and some summarise the
    # words: bit i of full is set when w[i] has every bit set, bit i of some
    # when w[i] has any.  runs counts the used runs inside the block, as if
    # the ordinals on either side of it were free.
    ctypedef struct Chunk "ipam_chunk":
        uint64_t full
        uint64_t some
        unsigned int runs
        uint64_t w[64]

    size_t NODE_SIZE "IPAM_NODE_SIZE"(int cap)
    void prefetch "IPAM_PREFETCH"(const void *p) noexcept nogil
    int ctz64 "__builtin_ctzll"(uint64_t x) noexcept nogil
    int popcount64 "__builtin_popcountll"(uint64_t x) noexcept nogil


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
    # A chunk covers one aligned block of CHUNK_BITS ordinals.
    CHUNK_SHIFT = 12
    CHUNK_BITS = 4096
    CHUNK_LAST = 4095
    CHUNK_WORDS = 64
    # A block where more than DENSIFY runs would start becomes a chunk: its
    # 536 bytes then cost less than the runs' entries.  A chunk left with
    # at most SPARSIFY runs turns back into runs.  The gap between the two
    # keeps a block that churns near one of them from switching every call.
    DENSIFY = 16
    SPARSIFY = 6


# A B+tree of the used runs and the chunks, ordered by key.
ctypedef struct Tree:
    Node *root
    int height              # 0 when the root is a leaf
    Py_ssize_t count        # number of leaf entries
    Node *spare             # nodes allocated ahead of a split, chained


# The way from the root to one leaf entry: node[d] is the node at depth d and
# idx[d] the entry taken there; node[height] is the leaf and idx[height] the
# entry in it (-1 for "before the first entry").
ctypedef struct Path:
    Node *node[MAX_DEPTH]
    int idx[MAX_DEPTH]
