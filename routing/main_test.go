package routing

import (
	"os"
	"testing"

	"ailb/internal/redistest"
)

func TestMain(m *testing.M) {
	redistest.Quiet()
	os.Exit(m.Run())
}
