package stackgen

import (
	"os"
	"testing"

	"github.com/vmrep/vmrep/internal/tofutest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	tofutest.Cleanup()
	os.Exit(code)
}
