// Package nbd is a small client of the Network Block Device protocol: the
// fixed newstyle handshake, structured replies, meta contexts
// (base:allocation, qemu:dirty-bitmap:NAME), READ, WRITE, BLOCK_STATUS and
// DISC, over a Unix socket or TCP. It knows nothing of vmrep: engine/source
// reads volumes through it.
//
// Every length read from the wire is bounded before it sizes a buffer, and
// the reply decoders are fuzzed.
package nbd
