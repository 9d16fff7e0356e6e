package breaker_test

import (
	"testing"

	"go.uber.org/goleak"

	"ailb/internal/redistest"
)

func TestMain(m *testing.M) {
	redistest.Quiet()
	goleak.VerifyTestMain(m)
}
