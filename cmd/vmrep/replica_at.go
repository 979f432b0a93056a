package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

// awaitReplicaMove waits for a replica create --at job and says how the
// replica got to ref and how many bytes that wrote.
func (a *app) awaitReplicaMove(cmd *cobra.Command, j api.Job, ref string) error {
	var r api.ReplicaMoveResult
	if show, err := a.await(cmd.Context(), j, &r); !show {
		return err
	}
	if r.SnapshotID != "" {
		ref = fmt.Sprintf("%s@%d", r.VGName, r.Seq) // web@latest as the number it was
	}
	written := fmt.Sprintf("wrote %s of %s", humanBytes(r.WrittenBytes), humanBytes(r.VolumeBytes))
	switch r.How {
	case api.MovedByDelta:
		fmt.Fprintf(a.stdout, "moved replica %s from %s to %s: %s\n", r.Dir, r.From, ref, written)
	case api.MovedCurrent:
		fmt.Fprintf(a.stdout, "replica %s is at %s already: wrote nothing\n", r.Dir, ref)
	case api.MovedRewritten:
		fmt.Fprintf(a.stdout, "rewrote replica %s at %s, every volume whole: %s\n", r.Dir, ref, written)
	default:
		fmt.Fprintf(a.stdout, "created replica %s at %s: %s\n", r.Dir, ref, written)
	}
	return a.printReplica(r.ReplicaResult)
}
