package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vmrep/vmrep/api"
)

func newGCCmd(a *app) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "gc [--dry-run]",
		Short: "Reclaim the space of chunks no snapshot refers to",
		Long: `gc marks every manifest page and chunk that a snapshot refers to, then
deletes packs that hold nothing else, then rewrites packs that are mostly
dead when the disk has room to spare for the copy. Deleting a snapshot
frees nothing until gc runs.

gc needs the store to itself: it waits, queued, while other jobs run
("queued behind N jobs"), and jobs asked for after it wait until it ends.
Ctrl-C (or vmrep jobs cancel) cancels a queued gc. A second gc is refused
while one is queued or running.

On a bucket shared with other vmrepd (--backend), gc takes the bucket's
exclusive lock: it waits while another daemon writes, saying which one
holds the bucket and until when, and it deletes only blobs that an earlier
gc found dead at least the grace period ago (vmrepd --gc-grace, default
1h), so run it twice, the grace apart, to free the space of a forgotten
snapshot.`,
		Example: `  vmrep snapshot delete web@1
  vmrep gc --dry-run   # count what is live, delete nothing
  vmrep gc`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.startingJob()
			j, err := a.cl.GC(cmd.Context(), api.GCRequest{DryRun: dryRun})
			if err != nil {
				return err
			}
			ev, werr := a.follow(cmd.Context(), j)
			if a.json || werr != nil {
				return werr
			}
			var r api.GCResult
			if err := json.Unmarshal(ev.Result, &r); err != nil {
				return fmt.Errorf("gc: reading result: %w", err)
			}
			a.printGC(r)
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "mark and count only; delete nothing")
	return cmd
}

// printGC says what is live, what is dead, what gc can reclaim now and
// what it did.
func (a *app) printGC(r api.GCResult) {
	fmt.Fprintf(a.stdout, "%d snapshots refer to %d pages and %d chunk references\n", r.Snapshots, r.LivePages, r.ChunkRefs)
	fmt.Fprintf(a.stdout, "store: %d blobs in %s: %d live (%s), %d dead (%s)\n", r.StoreBlobs,
		humanBytes(r.StoreBytesBefore), r.LiveBlobs, humanBytes(r.LiveBytes), r.DeadBlobs, humanBytes(r.DeadBytes))
	fmt.Fprintf(a.stdout, "reclaimable now: %s (%d packs to delete, %d of them rewritten first)\n",
		humanBytes(r.ReclaimableBytes), r.PacksDeleted, r.PacksRewritten)
	if r.DeadKeptBytes > 0 {
		fmt.Fprintf(a.stdout, "%s dead stay in packs at least half live, until more of them dies\n", humanBytes(r.DeadKeptBytes))
	}
	if r.DryRun {
		fmt.Fprintln(a.stdout, "dry run: nothing deleted")
		return
	}
	fmt.Fprintf(a.stdout, "deleted %d packs (%d rewritten first), %d blobs; store %s -> %s, freed %s\n",
		r.PacksDeleted, r.PacksRewritten, r.BlobsDeleted, humanBytes(r.StoreBytesBefore),
		humanBytes(r.StoreBytesAfter), humanBytes(r.BytesFreed))
	if r.PendingBlobs > 0 {
		fmt.Fprintf(a.stdout, "%d dead blobs held back (shared bucket): a gc after the grace period deletes them if they are still dead\n", r.PendingBlobs)
	}
	if r.PacksSkippedNoSpace > 0 {
		fmt.Fprintf(a.stdout, "left %d mostly unused packs as they are: too little free space to rewrite them; free space and run gc again\n",
			r.PacksSkippedNoSpace)
	}
}
