package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/vmrep/vmrep/api"
)

// stderrIsTerminal says whether a progress bar would be seen by a person.
func stderrIsTerminal() bool { return term.IsTerminal(int(os.Stderr.Fd())) }

// follow waits for a job the command started to end. With --json every
// event goes to stdout as one NDJSON line; on a terminal a progress bar goes
// to stderr; otherwise it is quiet. It returns the final event and the
// job's error, if any. Ctrl-C while it waits cancels the job and waits for
// it to end (see interrupts).
func (a *app) follow(ctx context.Context, j api.Job) (api.Event, error) {
	return a.followJob(ctx, j, true)
}

// watch follows a job someone else started: Ctrl-C stops watching and
// leaves the job running.
func (a *app) watch(ctx context.Context, j api.Job) (api.Event, error) {
	ev, err := a.followJob(ctx, j, false)
	if ctx.Err() != nil && !api.Final(ev.State) {
		return ev, interruptedError{fmt.Sprintf("stopped watching job %s, which goes on (cancel it with: vmrep jobs cancel %s)", j.ID, j.ID)}
	}
	return ev, err
}

// followJob is follow and watch: with cancel, the first Ctrl-C cancels j.
func (a *app) followJob(ctx context.Context, j api.Job, cancel bool) (api.Event, error) {
	var bar *progressbar.ProgressBar
	enc := json.NewEncoder(a.stdout)
	lastQueued := ""
	onEvent := func(ev api.Event) error {
		switch {
		case a.json:
			return enc.Encode(ev)
		case ev.State == api.StateQueued && ev.Message != lastQueued:
			// Said even without a terminal: a job that waits should say why.
			lastQueued = ev.Message
			fmt.Fprintf(a.stderr, "%s %s: %s\n", j.Kind, j.Target, ev.Message)
		case a.stderr == os.Stderr && stderrIsTerminal():
			if bar == nil && ev.Total > 0 {
				bar = progressbar.NewOptions64(ev.Total,
					progressbar.OptionSetWriter(os.Stderr),
					progressbar.OptionShowBytes(j.Kind != api.JobVerify),
					progressbar.OptionSetDescription(fmt.Sprintf("%s %s", j.Kind, j.Target)),
					progressbar.OptionClearOnFinish(),
					progressbar.OptionThrottle(100*time.Millisecond))
			}
			if bar != nil {
				if ev.Total > 0 && ev.Total != bar.GetMax64() {
					bar.ChangeMax64(ev.Total)
				}
				_ = bar.Set64(ev.Done)
			}
		}
		return nil
	}
	var mu sync.Mutex
	asked := false
	done := func() {}
	if cancel {
		done = a.whileFollowing(a.cancelOnInterrupt(j, &asked, &mu))
	}
	ev, err := a.cl.Wait(ctx, j.ID, onEvent)
	done()
	if bar != nil {
		_ = bar.Finish()
	}
	mu.Lock()
	defer mu.Unlock()
	if asked {
		return interruptResult(j, ev, err, ctx)
	}
	return ev, err
}

// await follows a job and, unless --json already printed its events,
// decodes the result into v. It reports whether the caller should print v.
func (a *app) await(ctx context.Context, j api.Job, v any) (bool, error) {
	ev, err := a.follow(ctx, j)
	if err != nil || a.json {
		return false, err
	}
	if err := json.Unmarshal(ev.Result, v); err != nil {
		return false, fmt.Errorf("job %s: reading result: %w", j.ID, err)
	}
	return true, nil
}
