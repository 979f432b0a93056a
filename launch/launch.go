package launch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Accelerators.
const (
	AccelAuto = "auto" // KVM when /dev/kvm is usable and the guest runs under it, else TCG
	AccelKVM  = "kvm"
	AccelTCG  = "tcg"
)

// DefaultReady is the readiness pattern when none is given: a getty's
// login prompt, or systemd reaching the multi-user or graphical target;
// a guest that knows nothing of vmrep shows one of them.
var DefaultReady = regexp.MustCompile(`login: *$|Reached target .*(Multi-User System|multi-user\.target|Graphical Interface|graphical\.target)`)

// Volume is one disk of the VM.
type Volume struct {
	// ID is the disk's serial number as the guest sees it (virtio-blk
	// keeps 20 bytes: a volume ID fits).
	ID   string
	Path string // absolute: an image file or a block device
}

// Options say what to boot and how.
type Options struct {
	Volumes []Volume // the boot volume first
	// Overlay boots every volume through a qcow2 overlay (a test launch):
	// the images are opened read-only and never written.
	Overlay bool
	// TempDir is where the VM's private directory (overlays, logs,
	// sockets) is made; empty: os.TempDir(). Unix socket paths are short,
	// so this must be too.
	TempDir   string
	Name      string        // the VM's name in QEMU (-name), shown by ps
	Accel     string        // AccelAuto (empty), AccelKVM or AccelTCG
	Timeout   time.Duration // from QEMU's start to readiness; 0: 2 minutes
	Ready     *regexp.Regexp
	Checks    []string // shell commands run in the guest after readiness, through its agent
	MemoryMiB int      // 0: 512
	QEMU      string   // the emulator; empty: qemu-system-x86_64
	QEMUImg   string   // empty: qemu-img
	OVMFDir   string   // where OVMF's images are; empty: /usr/share/OVMF
	Progress  func(msg string)
}

// Result is what a launch saw.
type Result struct {
	Accel       string        `json:"accel"`                // the accelerator the guest ran under
	AccelNote   string        `json:"accel_note,omitempty"` // why not KVM, when auto chose TCG
	Firmware    string        `json:"firmware"`
	Overlay     bool          `json:"overlay"`
	Ready       bool          `json:"ready"`
	BootSeconds float64       `json:"boot_seconds"` // QEMU's start (of the attempt that counted) to readiness or failure
	ReadyLine   string        `json:"ready_line,omitempty"`
	Console     []string      `json:"console"` // the serial console's last lines
	FirmwareLog []string      `json:"firmware_log,omitempty"`
	Checks      []CheckResult `json:"checks,omitempty"`
	Reason      string        `json:"reason,omitempty"` // one line: why the launch failed
	PID         int           `json:"pid,omitempty"`
}

// Failure is the error of a launch whose guest did not become ready, or
// whose checks failed; Reason is one line.
type Failure struct{ Reason string }

func (f *Failure) Error() string { return f.Reason }

// tailLines is how many console lines a result keeps.
const tailLines = 40

func (o *Options) defaults() {
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if o.Accel == "" {
		o.Accel = AccelAuto
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Ready == nil {
		o.Ready = DefaultReady
	}
	if o.MemoryMiB <= 0 {
		o.MemoryMiB = 512
	}
	if o.QEMU == "" {
		o.QEMU = "qemu-system-x86_64"
	}
	if o.QEMUImg == "" {
		o.QEMUImg = "qemu-img"
	}
	if o.OVMFDir == "" {
		o.OVMFDir = "/usr/share/OVMF"
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
}

func (o *Options) check() error {
	if len(o.Volumes) == 0 {
		return errors.New("launch: no volumes")
	}
	switch o.Accel {
	case AccelAuto, AccelKVM, AccelTCG:
	default:
		return fmt.Errorf("launch: accelerator %q: want %s, %s or %s", o.Accel, AccelAuto, AccelKVM, AccelTCG)
	}
	for _, v := range o.Volumes {
		if !filepath.IsAbs(v.Path) {
			return fmt.Errorf("launch: volume %s: path %q is not absolute", v.ID, v.Path)
		}
		if len(v.ID) > 20 || strings.ContainsAny(v.ID, ",= ") {
			return fmt.Errorf("launch: volume ID %q cannot be a disk serial (at most 20 bytes, no comma, '=' or space)", v.ID)
		}
		if _, err := os.Stat(v.Path); err != nil {
			return fmt.Errorf("launch: volume %s: %w", v.ID, err)
		}
	}
	return nil
}

// Test boots the volumes on overlays, waits for readiness, runs the
// checks and always tears the VM down. The error is a *Failure when the
// guest did not become ready or a check failed; the Result is filled in
// either way.
func Test(ctx context.Context, o Options) (Result, error) {
	o.Overlay = true
	in, res, err := Boot(ctx, o)
	if in != nil {
		if serr := in.Stop(context.WithoutCancel(ctx)); serr != nil && err == nil {
			err = serr
		}
		res.PID = 0
	}
	return res, err
}

// Boot starts the VM and waits until it is ready and its checks have
// passed, returning the running instance, which the caller must Stop.
// On failure it tears the VM down itself and returns a nil Instance.
func Boot(ctx context.Context, o Options) (*Instance, Result, error) {
	o.defaults()
	res := Result{Overlay: o.Overlay, Firmware: FirmwareBIOS}
	if err := o.check(); err != nil {
		res.Reason = err.Error()
		return nil, res, err
	}
	dir, err := os.MkdirTemp(o.TempDir, dirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		res.Reason = "launch: " + err.Error()
		return nil, res, fmt.Errorf("launch: %w", err)
	}
	in, err := boot(ctx, &o, dir, &res)
	if err != nil {
		if in != nil {
			_ = in.Stop(context.WithoutCancel(ctx))
		} else {
			os.RemoveAll(dir)
		}
		if res.Reason == "" {
			res.Reason = err.Error()
		}
		return nil, res, err
	}
	if !o.Overlay {
		// -no-reboot made a reset during the boot a failure; a VM launched
		// for real that reboots later must come back up, not end.
		if err := in.setRebootAction("reset"); err != nil {
			o.Progress("QEMU kept -no-reboot (a guest reboot ends the VM): " + err.Error())
		}
	}
	return in, res, nil
}

func boot(ctx context.Context, o *Options, dir string, res *Result) (*Instance, error) {
	esp, err := HasESP(o.Volumes[0].Path)
	if err != nil {
		return nil, fmt.Errorf("launch: %w", err)
	}
	vm := &vmConfig{dir: dir, opts: o}
	if esp {
		code, vars, ok := findOVMF(o.OVMFDir)
		if ok {
			vm.ovmfCode, vm.ovmfVars = code, filepath.Join(dir, "OVMF_VARS.fd")
			if err := copyFile(vars, vm.ovmfVars); err != nil {
				return nil, fmt.Errorf("launch: private OVMF variables: %w", err)
			}
			res.Firmware = FirmwareUEFI
		} else {
			o.Progress("the boot volume has an EFI system partition but OVMF is not installed: booting with BIOS")
		}
	}
	accel, note := o.Accel, ""
	if accel == AccelAuto {
		accel = AccelTCG
		if err := kvmUsable(); err != nil {
			note = "KVM not usable: " + err.Error()
		} else {
			accel = AccelKVM
		}
	}
	deadline := time.Now().Add(o.Timeout)
	for {
		res.Accel, res.AccelNote = accel, note
		in, kvmErr, err := attempt(ctx, vm, accel, deadline, res)
		if kvmErr == "" || o.Accel != AccelAuto {
			if kvmErr != "" && err == nil {
				err = &Failure{Reason: "KVM failed: " + kvmErr}
				res.Reason = err.Error()
			}
			return in, err
		}
		// KVM could not run this guest: the same boot again under TCG.
		note = "KVM failed, booted again under TCG: " + kvmErr
		o.Progress(note)
		*res = Result{Overlay: res.Overlay, Firmware: res.Firmware}
		accel = AccelTCG
	}
}

// kvmUsable reports why /dev/kvm cannot be used, or nil; a variable so a
// test can claim KVM where the machine has none.
var kvmUsable = func() error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

// dirPrefix starts the name of a VM's private directory, followed by the
// owner's PID: RemoveStale knows a dead owner's from a live one's.
const dirPrefix = "vmrep-vm-"

// RemoveStale removes from tempDir the VM directories (overlays, logs)
// that a process that no longer runs left, as a daemon killed mid-launch
// does; its QEMU died with it (Pdeathsig). Directories of live processes,
// other daemons' included, are left alone.
func RemoveStale(tempDir string) {
	ents, err := os.ReadDir(tempDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), dirPrefix)
		pid, _, ok2 := strings.Cut(rest, "-")
		n, err := strconv.Atoi(pid)
		if !ok || !ok2 || err != nil || n <= 0 || !e.IsDir() {
			continue
		}
		if syscall.Kill(n, 0) == syscall.ESRCH {
			os.RemoveAll(filepath.Join(tempDir, e.Name()))
		}
	}
}
