package store

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// childEnv names the environment variable that makes the test binary run as
// a child process of a test instead of running the tests. Its value is the
// child's mode, which runChild dispatches on.
const childEnv = "CALLHOST_STORE_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		if err := runChild(mode); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// runChild runs the child process of a test.
func runChild(mode string) error {
	switch mode {
	case "crash":
		return runCrashChild(os.Getenv("STORE_DIR"), os.Getenv("STORE_SYNC"))
	case "open":
		return runOpenChild(os.Getenv("STORE_DIR"))
	}
	return fmt.Errorf("unknown child mode %q", mode)
}
