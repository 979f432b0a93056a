// Package pipeline runs the bounded worker pipelines of the engine: one
// producer emits items, a fixed set of workers processes them, and, in
// Ordered, one consumer takes the results back in the order they were
// emitted.
//
// It owns the concurrency and nothing else: the goroutines, the bound on
// items in flight, the shutdown on the first error or on cancellation, and
// the wait for every goroutine it started before it returns. It knows
// nothing of chunks, stores or volumes and imports no project package.
//
// Items travel by value through slots allocated once per run, so a run
// allocates nothing per item; Ordered hands each worker the slot's previous
// result to write into, so buffers in results are reused from item to item.
package pipeline
