package capture

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/vmrep/vmrep/engine/volume"
)

// Plan is one capture of a volume group.
type Plan struct {
	VG, VGID string
	Sources  []string // the volumes' source paths, in VG order
	Hooks    *volume.Hooks
	LVM      *volume.LVMSnapshot // nil: read the sources themselves
	// Snapshots takes the LVM snapshots; required when LVM is set.
	Snapshots *LVM
	// Log, when set, receives each line of hook output and each step.
	Log func(line string)
}

// ErrPreHook is wrapped by Run's error when the pre hook failed, in which
// case nothing was read.
var ErrPreHook = errors.New("pre-snapshot hook failed")

// Run makes the plan's sources consistent, calls read with the paths to read
// them from (in Sources order), and undoes what it did, on every path.
//
// Without LVM the order is: pre hook, read, post hook. With LVM snapshots the
// post hook runs as soon as the snapshots exist, since they are the
// consistent image: pre hook, lvcreate, post hook, read, lvremove. The post
// hook always runs once the pre hook was started, even when the context is
// canceled, so a frozen file system is always thawed.
func Run(ctx context.Context, p Plan, read func(ctx context.Context, paths []string) error) error {
	logf := func(format string, args ...any) {
		if p.Log != nil {
			p.Log(fmt.Sprintf(format, args...))
		}
	}
	if p.LVM != nil && p.Snapshots == nil {
		return fmt.Errorf("capture vg %q: lvm snapshots asked for but not configured", p.VG)
	}
	env := HookEnv{VG: p.VG, VGID: p.VGID, Volumes: p.Sources}
	postDone := false
	post := func() error {
		if postDone || p.Hooks == nil || p.Hooks.Post == "" {
			postDone = true
			return nil
		}
		postDone = true
		return p.hook(context.WithoutCancel(ctx), PhasePost, p.Hooks.Post, env, logf)
	}

	var err error
	if p.Hooks != nil && p.Hooks.Pre != "" {
		if herr := p.hook(ctx, PhasePre, p.Hooks.Pre, env, logf); herr != nil {
			err = fmt.Errorf("%w: %w", ErrPreHook, herr)
		}
	}
	paths := p.Sources
	var snaps []LV
	if err == nil && p.LVM != nil {
		paths = make([]string, len(p.Sources))
		for i, src := range p.Sources {
			lv, dev, serr := p.Snapshots.Snapshot(ctx, src, p.LVM)
			if serr != nil {
				err = fmt.Errorf("capture vg %q: %w", p.VG, serr)
				break
			}
			logf("lvm snapshot %s of %s at %s", lv, src, dev)
			snaps = append(snaps, lv)
			paths[i] = dev
		}
		// The snapshots are the consistent image: thaw now.
		err = errors.Join(err, post())
	}
	if err == nil {
		err = read(ctx, paths)
	}
	for _, lv := range snaps {
		rerr := p.Snapshots.Remove(context.WithoutCancel(ctx), lv)
		if rerr == nil {
			logf("lvm snapshot %s removed", lv)
		}
		err = errors.Join(err, rerr)
	}
	return errors.Join(err, post())
}

func (p Plan) hook(ctx context.Context, phase Phase, cmd string, env HookEnv, logf func(string, ...any)) error {
	logf("%s-snapshot hook: %s", phase, cmd)
	out, err := RunHook(ctx, phase, cmd, p.Hooks.EffectiveTimeout(), env)
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line != "" {
			logf("%s-snapshot hook: | %s", phase, line)
		}
	}
	return err
}
