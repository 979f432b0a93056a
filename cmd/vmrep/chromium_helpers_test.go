package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/vmrep/vmrep/internal/testdisk"
)

// browser is a headless Chromium driven over the DevTools protocol on a
// pipe (--remote-debugging-pipe: commands in on fd 3, answers out on fd 4,
// each a JSON message ended by a NUL byte), so the test needs no
// websocket client.
type browser struct {
	t    *testing.T
	cmd  *exec.Cmd
	in   *os.File // to the browser
	log  *syncBuffer
	done chan struct{}

	mu      sync.Mutex
	nextID  int
	pending map[int]chan cdpReply
	readErr error
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// chromiumBinary is the browser make deps installs (Debian's chromium);
// the test skips without it, except in CI (testdisk.Need), where a skip
// would hide a test that never ran.
func chromiumBinary(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testdisk.Need(t, "chromium")
	return ""
}

// startBrowser starts a headless Chromium with a fresh profile under the
// test's temp dir, cut off from every network service of its own.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	bin := chromiumBinary(t)
	toBrowserR, toBrowserW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromBrowserR, fromBrowserW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, in: toBrowserW, log: &syncBuffer{}, done: make(chan struct{}), pending: map[int]chan cdpReply{}}
	b.cmd = exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--hide-scrollbars", "--mute-audio", "--user-data-dir="+t.TempDir(), "--remote-debugging-pipe", "about:blank")
	b.cmd.ExtraFiles = []*os.File{toBrowserR, fromBrowserW} // fds 3 and 4
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	toBrowserR.Close()
	fromBrowserW.Close()
	go b.read(fromBrowserR)
	t.Cleanup(b.close)
	return b
}

// read hands each answer to its caller; events are not used.
func (b *browser) read(r *os.File) {
	defer close(b.done)
	defer r.Close()
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		msg, err := br.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			b.readErr = fmt.Errorf("reading from chromium: %w", err)
			for id, ch := range b.pending {
				close(ch)
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var m struct {
			ID int `json:"id"`
			cdpReply
		}
		if err := json.Unmarshal(msg[:len(msg)-1], &m); err != nil || m.ID == 0 {
			continue
		}
		b.mu.Lock()
		ch := b.pending[m.ID]
		delete(b.pending, m.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- m.cdpReply
		}
	}
}

// call sends one command (to the page of session, or to the browser when
// session is "") and decodes its result into out, if not nil.
func (b *browser) call(session, method string, params, out any) error {
	b.mu.Lock()
	if b.readErr != nil {
		b.mu.Unlock()
		return b.readErr
	}
	b.nextID++
	id := b.nextID
	ch := make(chan cdpReply, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method, "params": params}
	if params == nil {
		msg["params"] = struct{}{}
	}
	if session != "" {
		msg["sessionId"] = session
	}
	raw, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := b.in.Write(append(raw, 0)); err != nil {
		return fmt.Errorf("%s: writing to chromium: %w", method, err)
	}
	select {
	case rep, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: chromium went away: %v\n%s", method, b.readErr, b.log)
		}
		if rep.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, rep.Error.Message, rep.Error.Code)
		}
		if out != nil {
			return json.Unmarshal(rep.Result, out)
		}
		return nil
	case <-time.After(2 * time.Minute): // a bound on a hung browser, not a timing check
		return fmt.Errorf("%s: no answer from chromium\n%s", method, b.log)
	}
}

func (b *browser) must(session, method string, params, out any) {
	b.t.Helper()
	if err := b.call(session, method, params, out); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) close() {
	if b.cmd == nil {
		return
	}
	_ = b.call("", "Browser.close", nil, nil)
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		b.cmd.Process.Kill()
	}
	b.in.Close()
	b.cmd.Wait()
	b.cmd = nil
}

// tab is one page of the browser.
type tab struct {
	b       *browser
	session string
}

// open makes a page of width by height CSS pixels (mobile: a phone's
// viewport, with touch and its viewport rules) and loads url in it.
func (b *browser) open(url string, width, height int, mobile bool) *tab {
	b.t.Helper()
	var target struct {
		TargetID string `json:"targetId"`
	}
	b.must("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var att struct {
		SessionID string `json:"sessionId"`
	}
	b.must("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att)
	tb := &tab{b: b, session: att.SessionID}
	tb.resize(width, height, mobile)
	b.must(tb.session, "Page.navigate", map[string]any{"url": url}, nil)
	return tb
}

func (tb *tab) resize(width, height int, mobile bool) {
	tb.b.t.Helper()
	tb.b.must(tb.session, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}, nil)
}

// eval runs a JavaScript expression in the page and decodes its value
// (made JSON by the page) into out.
func (tb *tab) eval(expr string, out any) error {
	var r struct {
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := tb.b.call(tb.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("evaluating %q: %s", expr, r.ExceptionDetails.Text)
	}
	if len(r.Result.Value) == 0 {
		return errors.New("no value")
	}
	return json.Unmarshal(r.Result.Value, out)
}

// waitFor evaluates expr, a JavaScript boolean, until it is true; a page
// that never gets there fails the test after a generous bound.
func (tb *tab) waitFor(what, expr string, bound time.Duration) {
	tb.b.t.Helper()
	deadline := time.Now().Add(bound)
	for {
		var ok bool
		err := tb.eval("!!("+expr+")", &ok)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			var html string
			_ = tb.eval("document.documentElement.outerHTML", &html)
			tb.b.t.Fatalf("the page never showed %s (%v); its DOM:\n%s", what, err, html)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// screenshot saves the whole page, as wide as the viewport, as a PNG.
func (tb *tab) screenshot(path string) {
	tb.b.t.Helper()
	var size struct{ W, H float64 }
	if err := tb.eval(`({W: document.documentElement.clientWidth, H: document.documentElement.scrollHeight})`, &size); err != nil {
		tb.b.t.Fatal(err)
	}
	var shot struct {
		Data string `json:"data"`
	}
	tb.b.must(tb.session, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": size.W, "height": size.H, "scale": 1}}, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		tb.b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.b.t.Fatal(err)
	}
}
