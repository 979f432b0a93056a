// Package chunkers compares vmrep's chunker with other Go content-defined
// chunkers on one input: throughput (BenchmarkChunker) and how much of a
// lightly edited input still deduplicates (BenchmarkDedup).
//
// It is a separate module so the peers never enter vmrep's own go.mod. Run:
//
//	GOMAXPROCS=1 go test -bench . -benchtime 3x -run x
package chunkers
