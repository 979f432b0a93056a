module github.com/vmrep/vmrep/bench/chunkers

go 1.26.8

require (
	github.com/PlakarKorp/go-cdc-chunkers v1.1.0
	github.com/jotfs/fastcdc-go v0.2.0
	github.com/restic/chunker v0.4.0
	github.com/vmrep/vmrep v0.0.0
)

require (
	github.com/klauspost/cpuid/v2 v2.4.0 // indirect
	github.com/zeebo/blake3 v0.2.4 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/vmrep/vmrep => ../..
