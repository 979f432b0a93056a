package launch

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// vmConfig is what stays the same across a boot's attempts.
type vmConfig struct {
	dir                string // the VM's private directory
	opts               *Options
	ovmfCode, ovmfVars string // set for UEFI
}

func (vm *vmConfig) path(name string) string { return filepath.Join(vm.dir, name) }

// overlay is where volume i's test overlay lives.
func (vm *vmConfig) overlay(i int) string { return vm.path(fmt.Sprintf("vol%d.qcow2", i)) }

// makeOverlays creates a fresh qcow2 overlay over each volume; a
// previous attempt's are replaced, so every attempt boots the same disk.
func (vm *vmConfig) makeOverlays(ctx context.Context) error {
	for i, v := range vm.opts.Volumes {
		ov := vm.overlay(i)
		if err := os.Remove(ov); err != nil && !os.IsNotExist(err) {
			return err
		}
		out, err := exec.CommandContext(ctx, vm.opts.QEMUImg, "create", "-q", "-f", "qcow2",
			"-b", v.Path, "-F", "raw", ov).CombinedOutput()
		if err != nil {
			return fmt.Errorf("launch: overlay for volume %s: %v: %s", v.ID, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// optValue escapes a value for QEMU's comma-separated options.
func optValue(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// args is QEMU's command line for one attempt under accel. The files it
// names in the VM's directory carry the accelerator's name, so a failed
// KVM attempt's logs stay apart from the TCG attempt's.
func (vm *vmConfig) args(accel string) []string {
	o := vm.opts
	a := []string{
		"-nodefaults", "-no-user-config",
		"-machine", "q35", "-accel", accel,
		"-m", strconv.Itoa(o.MemoryMiB),
		"-display", "none", "-vga", "none",
		"-nic", "none",
		"-no-reboot",
		// SeaBIOS tries only the boot volume, and when that fails asks for
		// a reboot after a second, which -no-reboot turns into QEMU's exit.
		"-boot", "strict=on,reboot-timeout=1000",
		"-chardev", "file,id=console,path=" + optValue(vm.path("console-"+accel+".log")),
		"-serial", "chardev:console",
		"-chardev", "file,id=fwlog,path=" + optValue(vm.path("firmware-"+accel+".log")),
		"-device", "isa-debugcon,iobase=0x402,chardev=fwlog",
		"-qmp", "unix:" + optValue(vm.path("qmp.sock")) + ",server=on,wait=off",
		"-chardev", "socket,id=qga,path=" + optValue(vm.path("qga.sock")) + ",server=on,wait=off",
		"-device", "virtio-serial-pci",
		"-device", "virtserialport,chardev=qga,name=org.qemu.guest_agent.0",
	}
	if o.Name != "" {
		a = append(a, "-name", optValue(o.Name))
	}
	if vm.ovmfCode != "" {
		a = append(a,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+optValue(vm.ovmfCode),
			"-drive", "if=pflash,format=raw,unit=1,file="+optValue(vm.ovmfVars))
	}
	for i, v := range o.Volumes {
		file, format := v.Path, "raw"
		if o.Overlay {
			file, format = vm.overlay(i), "qcow2"
		}
		id := "vol" + strconv.Itoa(i)
		a = append(a, "-drive", fmt.Sprintf("file=%s,format=%s,if=none,id=%s", optValue(file), format, id))
		dev := fmt.Sprintf("virtio-blk-pci,drive=%s,serial=%s", id, v.ID)
		if i == 0 {
			dev += ",bootindex=0"
		}
		a = append(a, "-device", dev)
	}
	return a
}
