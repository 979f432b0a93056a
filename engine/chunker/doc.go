// Package chunker splits byte streams at content-defined boundaries with
// FastCDC (Xia et al., USENIX ATC 2016 and IEEE TPDS 2020), so that an edit in
// a volume moves only the chunk boundaries near it and everything else
// deduplicates against earlier snapshots.
//
// It owns the cut-point rule and nothing else: it knows no store, no chunk
// identity and no holes. It imports nothing of the project, so the rule can be
// reviewed, pinned and benchmarked on its own.
//
// # The rule
//
// Boundaries are a pure function of the bytes and of [Params]; a store fixes
// its Params at init, so they must never drift between releases. A chunk of a
// segment is found as follows:
//
//   - The first Min bytes are skipped without hashing (cut-point skipping).
//   - From byte Min on, a Gear hash is rolled one byte at a time:
//     fp = fp<<1 + gear[b] (mod 2^64), starting from fp = 0.
//   - After feeding the byte at index i, the chunk ends at i+1 when
//     fp & mask == 0. mask is maskS (log2(Avg)+2 bits, harder) while i < Avg
//     and maskL (log2(Avg)-2 bits, easier) afterwards: normalized chunking at
//     level 2, which pulls chunk sizes towards Avg.
//   - With no cut point the chunk ends at Max, or at the end of the data when
//     it is the final part of the segment.
//
// A mask of k bits has them spread evenly over bits 16..62: bit j (j = 0..k-1)
// is 62 - (j*46)/(k-1). High bits depend on the last 63 bytes fed, so the
// window is about 64 bytes; bit 63 is never used, which lets the scanner
// roll two bytes per step and still test every position (see cutter.go).
//
// # The gear table
//
// gear holds 256 uint64 values drawn from splitmix64 (Steele, Lea and Flood,
// 2014) seeded with 0x766d726570636463 (the ASCII bytes "vmrepcdc"): the
// state advances by 0x9e3779b97f4a7c15 before each output and the output is
// mixed as z ^= z>>30; z *= 0xbf58476d1ce4e5b9; z ^= z>>27;
// z *= 0x94d049bb133111eb; z ^= z>>31. gear[i] is the (i+1)-th output. The
// table is computed at init and a test pins its SHA-256 digest, so it can
// never change silently.
package chunker
