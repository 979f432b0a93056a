package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"
)

// logTail follows a log file QEMU writes, keeping its last lines.
type logTail struct {
	path    string
	off     int64
	partial string
	keep    int
	tail    []string
}

func newLogTail(path string, keep int) *logTail { return &logTail{path: path, keep: keep} }

var escapes = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]`)

// clean drops terminal escapes and control characters from a line.
func clean(s string) string { return strings.TrimRight(escapes.ReplaceAllString(s, ""), " ") }

// poll reads what was appended since the last poll and calls fn, when
// not nil, with each new complete line and then with the unfinished last
// line (a login prompt ends without a newline); fn returning true stops.
func (t *logTail) poll(fn func(line string) bool) {
	f, err := os.Open(t.path)
	if err != nil {
		return
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, t.off, 1<<40))
	if err != nil || len(b) == 0 {
		return
	}
	t.off += int64(len(b))
	lines := strings.Split(t.partial+string(b), "\n")
	t.partial = lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		l = clean(l)
		t.tail = append(t.tail, l)
		if len(t.tail) > t.keep {
			t.tail = t.tail[len(t.tail)-t.keep:]
		}
		if fn != nil && fn(l) {
			return
		}
	}
	if p := clean(t.partial); fn != nil && p != "" {
		fn(p)
	}
}

// lines is the tail, the unfinished last line included.
func (t *logTail) lines() []string {
	out := append([]string(nil), t.tail...)
	if p := clean(t.partial); p != "" {
		out = append(out, p)
	}
	if len(out) > t.keep {
		out = out[len(out)-t.keep:]
	}
	return out
}

// Patterns of failure.
var (
	kvmFailure      = regexp.MustCompile(`(?i)KVM internal error|emulation failure|kvm run failed|KVM: entry failed|failed to initialize kvm|Could not access KVM`)
	firmwareFailure = regexp.MustCompile(`No bootable device|Boot failed|No bootable option or device was found`)
	// Console lines after which no guest comes up by itself: a kernel
	// panic; OVMF that found no operating system starting its built-in
	// shell; SYSLINUX without its kernel; GRUB's rescue prompt; an
	// initramfs that found no root filesystem.
	guestFailure = regexp.MustCompile(`Kernel panic|No bootable option or device was found|Boot failed|` +
		`starting Boot[0-9A-F]+ "EFI Internal Shell"|Could not find kernel image|grub rescue>|Gave up waiting for root`)
)

// attempt boots once under accel and watches until the guest is ready,
// has failed, or the deadline passes. kvmErr is set, and the VM killed,
// when KVM could not run the guest (the caller may try TCG).
func attempt(ctx context.Context, vm *vmConfig, accel string, deadline time.Time, res *Result) (in *Instance, kvmErr string, err error) {
	o := vm.opts
	if o.Overlay {
		if err := vm.makeOverlays(ctx); err != nil {
			return nil, "", err
		}
	}
	o.Progress(fmt.Sprintf("booting under %s with %s", accel, res.Firmware))
	in, err = start(vm, accel)
	if err != nil {
		return nil, "", err
	}
	res.PID = in.PID()
	began := time.Now()
	console := newLogTail(vm.path("console-"+accel+".log"), tailLines)
	fwlog := newLogTail(vm.path("firmware-"+accel+".log"), 10)
	qemuLog := newLogTail(vm.path("qemu-"+accel+".log"), 10)
	fail := func(reason string) (*Instance, string, error) {
		res.Reason = reason
		return in, "", &Failure{Reason: reason}
	}
	defer func() {
		res.BootSeconds = time.Since(began).Seconds()
		res.Console, res.FirmwareLog = console.lines(), fwlog.lines()
	}()
	var q *qmp
	defer func() {
		if q != nil {
			q.Close()
		}
	}()
	lastStatus := time.Time{}
	for {
		exited := isClosed(in.exited)
		var bad, ready string
		fwlog.poll(func(l string) bool {
			if firmwareFailure.MatchString(l) {
				bad = "firmware: " + l
			}
			return bad != ""
		})
		console.poll(func(l string) bool {
			switch {
			case guestFailure.MatchString(l):
				bad = "guest: " + l
			case o.Ready.MatchString(l):
				ready = l
			}
			return bad != "" || ready != ""
		})
		var stderr string
		qemuLog.poll(func(l string) bool {
			if kvmFailure.MatchString(l) && stderr == "" {
				stderr = l
			}
			return false
		})
		status := ""
		if !exited && time.Since(lastStatus) > time.Second {
			lastStatus = time.Now()
			if q == nil {
				q, _ = dialQMP(ctx, vm.path("qmp.sock"))
			}
			if q != nil {
				if status, err = q.status(); err != nil {
					q.Close()
					q, status = nil, ""
				}
			}
		}
		switch {
		case accel == AccelKVM && (stderr != "" || status == "internal-error"):
			if stderr == "" {
				stderr = "the VM stopped with status internal-error"
			}
			in.kill(context.WithoutCancel(ctx))
			res.Console, res.FirmwareLog = console.lines(), fwlog.lines()
			return nil, stderr, nil
		case bad != "":
			return fail(bad)
		case ready != "":
			res.Ready, res.ReadyLine = true, ready
			res.BootSeconds = time.Since(began).Seconds()
			o.Progress(fmt.Sprintf("ready after %.1f s: %s", res.BootSeconds, ready))
			return in, "", runChecks(ctx, in, deadline, res)
		case status == "internal-error" || status == "guest-panicked":
			return fail("QEMU: the VM stopped with status " + status)
		case exited:
			why := "QEMU exited before the guest was ready (a guest reboot or power-off ends it)"
			if l := qemuLog.lines(); len(l) > 0 {
				why += ": " + l[len(l)-1]
			}
			return fail(why)
		case ctx.Err() != nil:
			res.Reason = "launch canceled"
			return in, "", ctx.Err()
		case time.Now().After(deadline):
			return fail(fmt.Sprintf("the guest was not ready after %s (no console line matched %q)", o.Timeout, o.Ready))
		}
		select {
		case <-ctx.Done():
		case <-in.exited:
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// agentWait is the least a guest agent is given to answer after
// readiness: a login prompt can come before the agent has started.
const agentWait = time.Minute

// runChecks runs each check in the guest; one that exits non-zero, or no
// agent, is a Failure.
func runChecks(ctx context.Context, in *Instance, deadline time.Time, res *Result) error {
	if len(in.vm.opts.Checks) == 0 {
		return nil
	}
	if d := time.Now().Add(agentWait); d.After(deadline) {
		deadline = d
	}
	actx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	ag, err := dialAgent(actx, in.vm.path("qga.sock"))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		res.Reason = "check: " + err.Error()
		return &Failure{Reason: res.Reason}
	}
	defer ag.Close()
	for _, c := range in.vm.opts.Checks {
		in.vm.opts.Progress("check: " + c)
		cr, err := ag.exec(actx, c)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			res.Reason = fmt.Sprintf("check %q: %v", c, err)
			return &Failure{Reason: res.Reason}
		}
		res.Checks = append(res.Checks, cr)
		if cr.ExitCode != 0 {
			res.Reason = fmt.Sprintf("check %q exited %d: %s", c, cr.ExitCode, firstLine(cr.Stderr))
			return &Failure{Reason: res.Reason}
		}
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// IsFailure reports whether err is a launch Failure (the guest did not
// become ready, or a check failed), not an error of the host.
func IsFailure(err error) bool {
	var f *Failure
	return errors.As(err, &f)
}
