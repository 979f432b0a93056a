// Package gc reclaims the space of blobs no snapshot refers to, by mark and
// sweep: it marks every manifest page and chunk named by a snapshot in the
// catalog, then has the store delete or rewrite packs holding other blobs.
//
// Chunks are marked in a Bloom filter, so memory stays small however large
// the store: a false positive only keeps a dead chunk one more round, never
// loses a live one. Pages are marked exactly, because a page found marked is
// not walked again and a false positive there would leave its chunks
// unmarked.
//
// The caller MUST keep every writer of the store stopped while Run works: a
// snapshot being ingested refers to blobs no snapshot record names yet.
package gc
