package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/vmrep/vmrep/api"
)

// follow reads events the way the event stream does, until the final one.
func follow(j *job) []api.Event {
	var evs []api.Event
	for {
		ev, changed := j.event()
		evs = append(evs, ev)
		if api.Final(ev.State) {
			return evs
		}
		<-changed
	}
}

func TestJobFanOutAndLateSubscriber(t *testing.T) {
	m := newJobManager(2, slog.New(slog.DiscardHandler))
	step := make(chan struct{})
	j, err := m.start("test", "x", func(ctx context.Context, j *job) (any, error) {
		for i := int64(1); i <= 3; i++ {
			<-step
			j.progress("work", i, 3, "")
		}
		return map[string]int{"n": 3}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([][]api.Event, 4)
	for i := range results {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = follow(j) }()
	}
	for range 3 {
		step <- struct{}{}
	}
	wg.Wait()
	for i, evs := range results {
		last := evs[len(evs)-1]
		if last.State != api.StateDone || last.Done != 3 || string(last.Result) != `{"n":3}` {
			t.Errorf("subscriber %d: last event %+v", i, last)
		}
	}
	// A subscriber arriving after the end gets the final state at once.
	late := follow(j)
	if len(late) != 1 || late[0].State != api.StateDone {
		t.Errorf("late subscriber: %+v", late)
	}
	m.shutdown()
}

func TestJobStatesAndHistory(t *testing.T) {
	m := newJobManager(2, slog.New(slog.DiscardHandler))
	cases := []struct {
		err  error
		want string
	}{
		{nil, api.StateDone},
		{errors.New("boom"), api.StateFailed},
		{context.Canceled, api.StateCanceled},
	}
	var ids []string
	for _, c := range cases {
		j, err := m.start("test", "x", func(ctx context.Context, j *job) (any, error) { return nil, c.err }, nil)
		if err != nil {
			t.Fatal(err)
		}
		evs := follow(j)
		if got := evs[len(evs)-1].State; got != c.want {
			t.Errorf("error %v: state %s, want %s", c.err, got, c.want)
		}
		ids = append(ids, j.id)
	}
	m.shutdown()
	if _, ok := m.get(ids[0]); ok {
		t.Error("oldest job kept beyond the history bound")
	}
	if _, ok := m.get(ids[2]); !ok {
		t.Error("newest job forgotten")
	}
	if _, err := m.start("test", "x", func(ctx context.Context, j *job) (any, error) { return nil, nil }, nil); err == nil {
		t.Error("job started after shutdown")
	}
}

func TestCancelRunningJobOnShutdown(t *testing.T) {
	m := newJobManager(0, slog.New(slog.DiscardHandler))
	started := make(chan struct{})
	j, _ := m.start("test", "x", func(ctx context.Context, j *job) (any, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}, nil)
	<-started
	m.shutdown()
	if v := j.view(); v.State != api.StateCanceled || v.Finished == nil {
		t.Fatalf("after shutdown: %+v", v)
	}
}

// A canceled job fails with code canceled, which is no server error.
func TestCanceledJobCode(t *testing.T) {
	m := newJobManager(2, slog.New(slog.DiscardHandler))
	defer m.shutdown()
	started := make(chan struct{})
	j, err := m.start("test", "x", func(ctx context.Context, j *job) (any, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	j.cancel()
	evs := follow(j)
	last := evs[len(evs)-1]
	if last.State != api.StateCanceled || last.Error == nil || last.Error.Code != api.CodeCanceled {
		t.Fatalf("canceled job ended with %+v, error %+v", last, last.Error)
	}
	if st := api.Status(last.Error.Code); st == http.StatusInternalServerError {
		t.Errorf("a canceled job maps to status %d", st)
	}
	// A request canceled under a handler maps the same way.
	if e := toAPIError(fmt.Errorf("reading: %w", context.Canceled)); e.Code != api.CodeCanceled || api.Status(e.Code) == http.StatusInternalServerError {
		t.Errorf("canceled request: code %q, status %d", e.Code, api.Status(e.Code))
	}
}

// A job that panics fails with an internal error; the daemon goes on and
// its lock (release) is given back.
func TestJobPanicFailsTheJob(t *testing.T) {
	m := newJobManager(2, slog.New(slog.DiscardHandler))
	released := false
	j, err := m.start("test", "x", func(ctx context.Context, j *job) (any, error) {
		var p *struct{ n int }
		return p.n, nil
	}, func() { released = true })
	if err != nil {
		t.Fatal(err)
	}
	evs := follow(j)
	last := evs[len(evs)-1]
	if last.State != api.StateFailed || last.Error == nil || !strings.Contains(last.Error.Message, "internal error in vmrepd") {
		t.Fatalf("last event of a panicking job: %+v", last)
	}
	if !released {
		t.Error("the panicking job's release was not called")
	}
	j2, err := m.start("test", "y", func(ctx context.Context, j *job) (any, error) { return 1, nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if evs := follow(j2); evs[len(evs)-1].State != api.StateDone {
		t.Errorf("a job after the panic: %+v", evs[len(evs)-1])
	}
}
