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
//	go run ./bench/harness -size 2G -out bench/results
//	go run ./bench/harness -smoke -out DIR   # tiny inputs, seconds
//	go run ./bench/harness -check DIR        # the report files exist and parse
package main
