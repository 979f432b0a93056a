// Package clock gives time to code that waits: a Clock interface with the
// real one (Real) and a fake one (Fake) whose time moves only when a test
// advances it, firing timers in deadline order.
//
// Schedulers, retry back-off and bandwidth limits take a Clock instead of
// calling package time, so a test can run a simulated day of 15-minute
// schedules in milliseconds and assert exact times. The package knows
// nothing of vmrep: it imports only the standard library.
package clock
