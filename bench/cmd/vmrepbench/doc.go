// Command vmrepbench runs one measured vmrep operation per process, calling
// the engine directly, and prints one JSON line of figures: bytes, seconds
// and, for ingest, the split of time between read, segment, hash and store.
// One operation per process lets bench/harness read the operation's peak RSS
// from the child's rusage (ru_maxrss).
//
//	vmrepbench init     -store DIR
//	vmrepbench ingest   -store DIR -vg NAME -image PATH
//	vmrepbench diff     -store DIR -vg NAME -base N -target M
//	vmrepbench export   -store DIR -vg NAME -base N -target M -o FILE
//	vmrepbench replica  -store DIR -vg NAME -seq N -dir DIR
//	vmrepbench apply    -delta FILE -dir DIR
//	vmrepbench restore  -store DIR -vg NAME -seq N -o PATH
//	vmrepbench synth    -size BYTES -changed N [-file PATH] [-lookups N]
//
// It is a benchmark driver, not a tool: it knows the engine packages and the
// workload generators, nothing of peers, tables or plots.
package main
