package main

import (
	"io"
	"strings"
	"testing"
)

func TestNegativeRatioPairsRejected(t *testing.T) {
	_, err := parseFlags([]string{"-ratio-pairs", "-1"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-ratio-pairs is -1") {
		t.Fatalf("parseFlags(-ratio-pairs -1) error = %v, want one naming -ratio-pairs", err)
	}
	cfg, err := parseFlags([]string{"-ratio-pairs", "0"}, io.Discard)
	if err != nil || cfg.RatioPairs != 0 {
		t.Fatalf("parseFlags(-ratio-pairs 0) = %v, %v, want no pairs and no error", cfg, err)
	}
}
