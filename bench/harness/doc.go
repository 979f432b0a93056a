// Command harness runs vmrep's benchmarks side by side with its peers
// (restic, borg, casync, desync for ingest; xdelta3 and rsync for delta size)
// on workloads generated from a seed, and writes a Markdown table, a JSON
// file of the same figures and PNG plots under bench/results.
//
// Every vmrep operation runs in its own process (bench/cmd/vmrepbench), as
// does every peer, so each peak RSS is that operation's (ru_maxrss of the
// child). Tools run one after another, never at once, and the input is read
// once before each so every tool starts with it in the page cache ("warm").
//
// It knows the workload generators and the command lines of the peers; it
// calls vmrep only through vmrepbench, never the engine packages.
//
// It is a module of its own, so that its plotting library and fonts stay
// out of vmrep's go.mod; build it there and run it from the repository
// root, where it builds vmrepbench (make bench and make bench-smoke do so):
//
//	go -C bench/harness build -o /tmp/benchharness .
//	/tmp/benchharness -size 2G -out bench/results
//	/tmp/benchharness -smoke -out DIR   # tiny inputs, seconds
//	/tmp/benchharness -check DIR        # the report files exist and parse
package main
