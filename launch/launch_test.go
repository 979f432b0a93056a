package launch

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmrep/vmrep/internal/testvm"
)

func TestArgs(t *testing.T) {
	o := Options{Volumes: []Volume{{ID: "vol-00000000000000aa", Path: "/r/boot,1.img"}, {ID: "vol-00000000000000bb", Path: "/r/data.img"}},
		Overlay: true, Name: "vmrep test /r"}
	o.defaults()
	vm := &vmConfig{dir: "/tmp/vm", opts: &o}
	a := strings.Join(vm.args(AccelTCG), " ")
	for _, want := range []string{
		"-accel tcg", "-no-reboot", "-boot strict=on,reboot-timeout=1000",
		"file=/tmp/vm/vol0.qcow2,format=qcow2,if=none,id=vol0",
		"virtio-blk-pci,drive=vol0,serial=vol-00000000000000aa,bootindex=0",
		"virtio-blk-pci,drive=vol1,serial=vol-00000000000000bb ",
		"isa-debugcon,iobase=0x402,chardev=fwlog",
		"name=org.qemu.guest_agent.0",
	} {
		if !strings.Contains(a+" ", want) {
			t.Errorf("args lack %q:\n%s", want, a)
		}
	}
	o.Overlay = false
	a = strings.Join(vm.args(AccelKVM), " ")
	if !strings.Contains(a, "file=/r/boot,,1.img,format=raw") {
		t.Errorf("real launch: boot volume not raw with its comma escaped:\n%s", a)
	}
	if strings.Contains(a, "serial=vol-00000000000000bb,bootindex") {
		t.Error("the data volume is a boot device")
	}
}

func TestConsoleTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "console.log")
	if err := os.WriteFile(p, []byte("a\r\n\x1b[0;32m  OK  \x1b[0m] Reached\nhost login: "), 0o600); err != nil {
		t.Fatal(err)
	}
	lt := newLogTail(p, 2)
	var seen []string
	lt.poll(func(l string) bool { seen = append(seen, l); return false })
	if want := []string{"a", "  OK  ] Reached", "host login:"}; !slices.Equal(seen, want) {
		t.Errorf("lines = %q, want %q", seen, want)
	}
	if got, want := lt.lines(), []string{"  OK  ] Reached", "host login:"}; !slices.Equal(got, want) {
		t.Errorf("tail = %q, want %q", got, want)
	}
	if !DefaultReady.MatchString("host login:") || !DefaultReady.MatchString("[  OK  ] Reached target multi-user.target - Multi-User System.") {
		t.Error("DefaultReady misses a login prompt or the multi-user target")
	}
}

func sum(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestBootUnbootableDisk boots a disk with no boot sector: the firmware's
// "No bootable device" fails the launch at once (not at the timeout), the
// image is unchanged and nothing of the VM is left.
func TestBootUnbootableDisk(t *testing.T) {
	needQEMU(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "blank.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	before := sum(t, img)
	tmp := t.TempDir()
	res, err := Test(context.Background(), Options{
		Volumes: []Volume{{ID: "vol-0000000000000001", Path: img}}, TempDir: tmp, Timeout: 5 * time.Minute,
		Progress: func(m string) { t.Log(m) }})
	t.Logf("result: %+v", res)
	if !IsFailure(err) {
		t.Fatalf("launch of a blank disk: err = %v, want a Failure", err)
	}
	if !strings.Contains(res.Reason, "No bootable device") && !strings.Contains(res.Reason, "Boot failed") {
		t.Errorf("reason %q names no firmware failure", res.Reason)
	}
	if res.Accel == "" || res.Firmware != FirmwareBIOS {
		t.Errorf("accel %q firmware %q", res.Accel, res.Firmware)
	}
	if sum(t, img) != before {
		t.Error("the image changed")
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the VM's directory is left: %v", left)
	}
}

func readyDisk(t *testing.T, path string) {
	t.Helper()
	if err := testvm.ReadyDisk(path); err != nil {
		t.Fatal(err)
	}
}

// TestBootRealAndStop boots a disk for real (no overlay): it is ready,
// runs until Stop, and Stop kills QEMU and removes the VM's directory.
func TestBootRealAndStop(t *testing.T) {
	needQEMU(t)
	img := filepath.Join(t.TempDir(), "ready.img")
	readyDisk(t, img)
	tmp := t.TempDir()
	in, res, err := Boot(context.Background(), Options{
		Volumes: []Volume{{ID: "vol-0000000000000001", Path: img}}, TempDir: tmp, Timeout: 5 * time.Minute,
		Ready: regexp.MustCompile(`^vmrep-test: ready$`), Progress: func(m string) { t.Log(m) }})
	if err != nil {
		t.Fatalf("boot: %v (%+v)", err, res)
	}
	t.Logf("ready after %.2f s under %s", res.BootSeconds, res.Accel)
	if !res.Ready || res.ReadyLine != "vmrep-test: ready" || res.Overlay || res.PID != in.PID() {
		t.Errorf("result %+v", res)
	}
	if err := syscall.Kill(in.PID(), 0); err != nil {
		t.Errorf("QEMU is not running after Boot: %v", err)
	}
	if c := in.Console(5); len(c) == 0 || c[len(c)-1] != "vmrep-test: ready" {
		t.Errorf("console %q", c)
	}
	// Launched for real, a guest reboot resets the VM instead of ending it.
	q, err := dialQMP(context.Background(), in.vm.path("qmp.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.call(time.Now().Add(10*time.Second), "system_reset", nil, nil); err != nil {
		t.Fatal(err)
	}
	q.Close()
	for n := 0; n < 2; time.Sleep(50 * time.Millisecond) { // the line again: it booted again
		if isClosed(in.Exited()) {
			t.Fatal("a guest reboot ended the VM")
		}
		n = 0
		for _, l := range in.Console(10) {
			if l == "vmrep-test: ready" {
				n++
			}
		}
	}
	if err := in.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !isClosed(in.Exited()) {
		t.Error("QEMU has not exited after Stop")
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the VM's directory is left: %v", left)
	}
}

// TestBootCanceled cancels a boot while the guest spins silently: QEMU is
// killed and the error is the context's.
func TestBootCanceled(t *testing.T) {
	needQEMU(t)
	img := filepath.Join(t.TempDir(), "ready.img")
	readyDisk(t, img)
	tmp := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var pid int
	started := make(chan struct{})
	go func() {
		<-started
		cancel()
	}()
	_, res, err := Boot(ctx, Options{
		Volumes: []Volume{{ID: "vol-0000000000000001", Path: img}}, TempDir: tmp, Timeout: 5 * time.Minute,
		Ready: regexp.MustCompile(`never printed`), Progress: func(m string) {
			if strings.HasPrefix(m, "booting") {
				close(started)
			}
		}})
	pid = res.PID
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled boot: err %v", err)
	}
	if pid == 0 || syscall.Kill(pid, 0) == nil {
		t.Errorf("QEMU %d still runs after a canceled boot", pid)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the VM's directory is left: %v", left)
	}
}

// TestBootFallsBackToTCG runs an emulator that fails under KVM the way
// nested KVM fails on real-mode code: auto boots again under TCG and says
// why in the result.
func TestBootFallsBackToTCG(t *testing.T) {
	real, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 is not installed (scripts/deps.sh installs it)")
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "qemu")
	script := "#!/bin/sh\ncase \" $* \" in *\" -accel kvm \"*)\n" +
		"\techo 'KVM internal error. Suberror: 1' >&2; echo 'emulation failure' >&2; exec sleep 600;;\nesac\n" +
		"exec " + real + " \"$@\"\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	saved := kvmUsable
	kvmUsable = func() error { return nil }
	defer func() { kvmUsable = saved }()
	img := filepath.Join(dir, "ready.img")
	readyDisk(t, img)
	tmp := t.TempDir()
	res, err := Test(context.Background(), Options{
		Volumes: []Volume{{ID: "vol-0000000000000001", Path: img}}, TempDir: tmp, Timeout: 5 * time.Minute, QEMU: fake,
		Ready: regexp.MustCompile("^" + testvm.ReadyLine + "$"), Progress: func(m string) { t.Log(m) }})
	if err != nil {
		t.Fatalf("boot: %v (%+v)", err, res)
	}
	if res.Accel != AccelTCG || !strings.Contains(res.AccelNote, "KVM failed") || !strings.Contains(res.AccelNote, "KVM internal error") || !res.Ready {
		t.Errorf("result: accel %q, note %q, ready %v; want TCG after KVM's internal error", res.Accel, res.AccelNote, res.Ready)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the VM's directory is left: %v", left)
	}

	// Asked for KVM only, the same failure fails the launch.
	res, err = Test(context.Background(), Options{
		Volumes: []Volume{{ID: "vol-0000000000000001", Path: img}}, TempDir: tmp, Timeout: 5 * time.Minute, QEMU: fake,
		Accel: AccelKVM, Ready: regexp.MustCompile("^" + testvm.ReadyLine + "$")})
	if !IsFailure(err) || !strings.Contains(res.Reason, "KVM failed") || res.Accel != AccelKVM {
		t.Errorf("--accel kvm on a failing KVM: err %v, result %+v", err, res)
	}
}

// TestBootUEFI boots a disk with an EFI system partition (MBR type 0xEF)
// but nothing to boot on it: OVMF is chosen, with a private variable
// store, and starting its shell fails the launch at once.
func TestBootUEFI(t *testing.T) {
	needQEMU(t)
	if _, _, ok := findOVMF("/usr/share/OVMF"); !ok {
		missing(t, "OVMF is not installed (Debian package ovmf; scripts/deps.sh installs it)")
	}
	img := filepath.Join(t.TempDir(), "esp.img")
	b := make([]byte, 4<<20)
	b[446+4] = 0xef
	b[446+8], b[446+12] = 8, 64 // LBA 8, 64 sectors
	b[510], b[511] = 0x55, 0xaa
	if err := os.WriteFile(img, b, 0o600); err != nil {
		t.Fatal(err)
	}
	before := sum(t, img)
	res, err := Test(context.Background(), Options{
		Volumes: []Volume{{ID: "vol-0000000000000001", Path: img}}, TempDir: t.TempDir(), Timeout: 5 * time.Minute,
		Progress: func(m string) { t.Log(m) }})
	t.Logf("after %.1f s: %s; console %q", res.BootSeconds, res.Reason, res.Console)
	if res.Firmware != FirmwareUEFI {
		t.Errorf("firmware %q, want uefi", res.Firmware)
	}
	if !IsFailure(err) || !strings.Contains(res.Reason, "EFI Internal Shell") {
		t.Errorf("boot of an empty ESP: err %v, want a Failure naming the UEFI shell", err)
	}
	if sum(t, img) != before {
		t.Error("the image changed")
	}
}

func TestRemoveStale(t *testing.T) {
	tmp := t.TempDir()
	// A PID far above pid_max's default runs nothing.
	dead := filepath.Join(tmp, dirPrefix+"999999999-1")
	live := filepath.Join(tmp, dirPrefix+strconv.Itoa(os.Getpid())+"-2")
	other := filepath.Join(tmp, "vmrep-vm-notapid")
	for _, d := range []string{dead, live, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	RemoveStale(tmp)
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("a dead owner's directory is left: %v", err)
	}
	for _, d := range []string{live, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed: %v", d, err)
		}
	}
}

func TestFailurePatterns(t *testing.T) {
	for _, l := range []string{
		"[    1.234567] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)",
		"Could not find kernel image: /boot/vmlinuz-6.1.0-28-cloud-amd64",
		"grub rescue>",
		"Gave up waiting for root file system device.  Common problems:",
		`BdsDxe: starting Boot0002 "EFI Internal Shell" from Fv(7CB8BDC9-F8EB-4F34-AAEA-3EE4AF6516A1)`,
	} {
		if !guestFailure.MatchString(l) {
			t.Errorf("console line %q is not a failure", l)
		}
	}
	for _, l := range []string{"[  OK  ] Reached target multi-user.target - Multi-User System.", "vmrep-sample login:",
		`BdsDxe: failed to load Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x2,0x0): Not Found`} {
		if guestFailure.MatchString(l) {
			t.Errorf("console line %q is a failure", l)
		}
	}
	for _, l := range []string{"Boot failed: not a bootable disk", "No bootable device."} {
		if !firmwareFailure.MatchString(l) {
			t.Errorf("firmware line %q is not a failure", l)
		}
	}
	if !kvmFailure.MatchString("KVM internal error. Suberror: 1") || !kvmFailure.MatchString("emulation failure") {
		t.Error("KVM's internal error is not a KVM failure")
	}
}

// needQEMU skips a test that boots when QEMU is missing, except in CI
// (CI=true), where scripts/deps.sh installed it and a skip would hide a
// test that never ran.
func needQEMU(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		missing(t, "qemu-system-x86_64 is not installed (scripts/deps.sh installs it)")
	}
}

func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}
