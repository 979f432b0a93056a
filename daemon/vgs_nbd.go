package daemon

import (
	"context"
	"os"
	"path/filepath"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/source"
	"github.com/vmrep/vmrep/engine/volume"
)

// nbdVolume checks a volume whose source is an NBD URI: the export answers,
// and with a QMP socket, its QEMU peer serves that export, so that a
// snapshot can keep dirty bitmaps there.
func (s *Server) nbdVolume(ctx context.Context, what string, v api.VolumeSource, qmp string) (volume.Volume, *api.Error) {
	src, err := source.Open(ctx, v.Path)
	if err != nil {
		return volume.Volume{}, api.Errorf(api.CodeInvalid, "%s: %v", what, err)
	}
	vol := volume.Volume{Name: v.Name, Role: volume.Role(v.Role), Size: src.Size(), Source: v.Path, Format: src.Format()}
	src.Close()
	if vol.Size == 0 {
		return volume.Volume{}, api.Errorf(api.CodeInvalid, "%s: %s is empty (0 bytes); a volume needs data", what, v.Path)
	}
	if qmp == "" {
		return vol, nil
	}
	if e := checkQMPSocket(qmp); e != nil {
		return volume.Volume{}, e
	}
	t, err := source.OpenQEMU(ctx, v.Path, qmp)
	if err != nil {
		return volume.Volume{}, api.Errorf(api.CodeInvalid, "%s: qmp %s: %v", what, qmp, err)
	}
	size := t.Size()
	t.Close()
	if size != vol.Size {
		return volume.Volume{}, api.Errorf(api.CodeInvalid, "%s: the QMP peer's node is %d bytes, the export %d: %s does not serve %s",
			what, size, vol.Size, qmp, v.Path)
	}
	vol.QMP = qmp
	return vol, nil
}

func checkQMPSocket(p string) *api.Error {
	if !filepath.IsAbs(p) {
		return api.Errorf(api.CodeInvalid, "qmp: path %q is not absolute", p)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return api.Errorf(api.CodeInvalid, "qmp: %s does not exist", p)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return api.Errorf(api.CodeInvalid, "qmp: %s is not a socket", p)
	}
	return nil
}

// checkNBDOptions checks what a VG of NBD volumes cannot have.
func checkNBDOptions(req api.CreateVGRequest, nbdVolumes int) *api.Error {
	switch {
	case req.QMP != "" && nbdVolumes == 0:
		return api.Errorf(api.CodeInvalid, "volume group %q: qmp %s given but no volume is an NBD URI (nbd+unix:///EXPORT?socket=PATH or nbd://HOST/EXPORT)", req.Name, req.QMP)
	case req.LVMSnapshot && nbdVolumes > 0:
		return api.Errorf(api.CodeInvalid, "volume group %q: lvm snapshots cannot read an NBD volume", req.Name)
	}
	return nil
}
