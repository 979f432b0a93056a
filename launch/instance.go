package launch

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Instance is a running VM. Stop tears it down; a VM whose owner dies is
// killed by the kernel (Pdeathsig).
type Instance struct {
	vm     *vmConfig
	accel  string
	cmd    *exec.Cmd
	exited chan struct{} // closed when QEMU has exited and been reaped
	stop   sync.Once
	err    error
}

// start runs QEMU for one attempt.
func start(vm *vmConfig, accel string) (*Instance, error) {
	for _, n := range []string{"qmp.sock", "qga.sock"} {
		os.Remove(vm.path(n))
	}
	errLog, err := os.Create(vm.path("qemu-" + accel + ".log"))
	if err != nil {
		return nil, fmt.Errorf("launch: %w", err)
	}
	defer errLog.Close()
	cmd := exec.Command(vm.opts.QEMU, vm.args(accel)...)
	cmd.Stdout, cmd.Stderr = errLog, errLog
	cmd.Dir = vm.dir
	// Killed with its owner: the daemon's death must not leave a VM.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("launch: start %s: %w", vm.opts.QEMU, err)
	}
	in := &Instance{vm: vm, accel: accel, cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(in.exited)
	}()
	return in, nil
}

// PID is QEMU's process ID.
func (in *Instance) PID() int { return in.cmd.Process.Pid }

// Accel is the accelerator the VM runs under.
func (in *Instance) Accel() string { return in.accel }

// Exited is closed when QEMU has exited.
func (in *Instance) Exited() <-chan struct{} { return in.exited }

// Console returns the serial console's last n lines.
func (in *Instance) Console(n int) []string {
	t := newLogTail(in.vm.path("console-"+in.accel+".log"), n)
	t.poll(nil)
	return t.lines()
}

// Check runs cmd in the guest through its agent.
func (in *Instance) Check(ctx context.Context, cmd string) (CheckResult, error) {
	ag, err := dialAgent(ctx, in.vm.path("qga.sock"))
	if err != nil {
		return CheckResult{Command: cmd}, err
	}
	defer ag.Close()
	return ag.exec(ctx, cmd)
}

// Stop asks QEMU to quit, kills it when it has not within a few seconds,
// and removes the VM's directory (overlays, logs, sockets). Safe to call
// more than once.
func (in *Instance) Stop(ctx context.Context) error {
	in.stop.Do(func() {
		in.kill(ctx)
		in.err = os.RemoveAll(in.vm.dir)
	})
	return in.err
}

// kill ends QEMU: quit over QMP, then SIGKILL to its process group.
func (in *Instance) kill(ctx context.Context) {
	select {
	case <-in.exited:
		return
	default:
	}
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	quitting := false
	if q, err := dialQMP(qctx, in.vm.path("qmp.sock")); err == nil {
		quitting = q.quit() == nil
		q.Close()
	}
	cancel()
	if quitting {
		select {
		case <-in.exited:
			return
		case <-time.After(5 * time.Second):
		}
	}
	_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL)
	<-in.exited
}

// setRebootAction tells QEMU what a guest reboot does from now on
// ("reset" or "shutdown", QMP set-action).
func (in *Instance) setRebootAction(action string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q, err := dialQMP(ctx, in.vm.path("qmp.sock"))
	if err != nil {
		return err
	}
	defer q.Close()
	return q.call(time.Now().Add(5*time.Second), "set-action", map[string]any{"reboot": action}, nil)
}
