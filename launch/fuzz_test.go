package launch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"
)

// FuzzHasESP reads arbitrary bytes as a boot volume's first sectors: the
// partition-table reader never panics, and an error is only ever an
// implausible GPT header, never a read past what the header allows.
func FuzzHasESP(f *testing.F) {
	mbr := make([]byte, 1024)
	mbr[510], mbr[511] = 0x55, 0xaa
	f.Add(bytes.Clone(mbr))
	mbr[446+4] = 0xef
	f.Add(bytes.Clone(mbr))
	gpt := make([]byte, 4096)
	copy(gpt, mbr)
	gpt[446+4] = 0xee
	copy(gpt[512:], "EFI PART")
	gpt[512+72] = 2   // entries at LBA 2
	gpt[512+80] = 4   // four entries
	gpt[512+84] = 128 // of 128 bytes
	copy(gpt[1024:], espGUID)
	f.Add(gpt)
	f.Fuzz(func(t *testing.T, b []byte) {
		hasESP(bytes.NewReader(b))
	})
}

// FuzzAgentReply answers a guest-exec with arbitrary bytes as the guest
// agent's status reply: the check never panics and always returns, with
// an error or a result (a guest's agent is the guest's, not vmrep's).
func FuzzAgentReply(f *testing.F) {
	f.Add([]byte(`{"return":{"exited":true,"exitcode":0,"out-data":"aGVsbG8K"}}` + "\n"))
	f.Add([]byte(`{"return":{"exited":true,"exitcode":3,"signal":9,"err-data":"!!"}}` + "\n"))
	f.Add([]byte(`{"event":"X"}` + "\n" + `{"error":{"class":"GenericError","desc":"no"}}` + "\n"))
	f.Add([]byte(`{"return":null}`))
	f.Fuzz(func(t *testing.T, reply []byte) {
		client, guest := net.Pipe()
		defer client.Close()
		go func() {
			defer guest.Close()
			r := bufio.NewReader(guest)
			if _, err := r.ReadBytes('\n'); err != nil { // guest-exec
				return
			}
			b, _ := json.Marshal(map[string]any{"return": map[string]int{"pid": 7}})
			if _, err := guest.Write(append(b, '\n')); err != nil {
				return
			}
			if _, err := r.ReadBytes('\n'); err != nil { // guest-exec-status
				return
			}
			guest.Write(reply)
		}()
		a := &agent{jsonConn: &jsonConn{c: client, dec: json.NewDecoder(client)}}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		a.exec(ctx, "true")
	})
}
