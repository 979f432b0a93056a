package daemon

import (
	"context"
	"fmt"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/replica"
	"github.com/vmrep/vmrep/engine/volume"
)

// checkReplicaTarget refuses a replica create that would move the replica
// in dir away from the snapshot or volume group it holds: writing an
// earlier snapshot over a later one rolls the VM's disks back without a
// word, and a later one over an earlier rewrites whole volumes where a
// delta moves them forward. The same snapshot again is allowed. The
// caller holds the replica's lock, so the state cannot change meanwhile.
func checkReplicaTarget(ctx context.Context, dir string, sn volume.Snapshot) *api.Error {
	st, err := replica.ReadState(ctx, dir)
	if err != nil {
		return api.Errorf(api.CodeInvalid, "%v", err)
	}
	if st.VGID == "" {
		return nil
	}
	if st.VGID != sn.VGID {
		return api.Errorf(api.CodeConflict, "replica %s holds volume group %s; creating %s there would replace it; add --force",
			dir, st.VGName, sn.Name())
	}
	for _, v := range st.Volumes {
		if v.SnapshotID == sn.ID {
			continue
		}
		who := "replica " + dir
		if st.SnapshotID == "" { // volumes at different snapshots: name the one
			who += fmt.Sprintf(" volume %q", v.Name)
		}
		how := "roll it back"
		if v.Seq < sn.Seq {
			how = "rewrite it whole (a delta moves it forward)"
		}
		hint := "add --force"
		if st.SnapshotID != "" { // --at moves a replica whose volumes are at one snapshot
			hint = "--at " + sn.Name() + " moves it there by one delta, or add --force"
		}
		return api.Errorf(api.CodeConflict, "%s is at %s@%d; creating %s there would %s; %s",
			who, st.VGName, v.Seq, sn.Name(), how, hint)
	}
	return nil
}
