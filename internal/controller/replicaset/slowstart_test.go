package replicaset

import (
	"errors"
	"sync/atomic"
	"testing"
)

func TestSlowStart(t *testing.T) {
	tests := []struct {
		name      string
		count     int
		failAfter int // calls that succeed before all fail; -1 never fails
		wantOK    int
		wantCalls int
	}{
		{"all succeed", 10, -1, 10, 10}, // batches 1,2,4,3
		{"none", 0, -1, 0, 0},
		{"first fails", 10, 0, 0, 1},            // stops after batch 1
		{"fails in third batch", 10, 4, 4, 7},   // 1+2 ok, batch of 4: 1 ok 3 fail
		{"fails in fourth batch", 10, 8, 8, 10}, // 1+2+4 ok, batch of 3: 1 ok 2 fail
	}
	for _, tt := range tests {
		var calls atomic.Int32
		ok, err := slowStart(tt.count, 1, func() error {
			n := calls.Add(1)
			if tt.failAfter >= 0 && int(n) > tt.failAfter {
				return errors.New("refused")
			}
			return nil
		})
		if ok != tt.wantOK || int(calls.Load()) != tt.wantCalls || (err != nil) != (tt.failAfter >= 0 && tt.count > 0) {
			t.Errorf("%s: slowStart = %d, %v after %d calls; want %d after %d calls", tt.name, ok, err, calls.Load(), tt.wantOK, tt.wantCalls)
		}
	}
}
