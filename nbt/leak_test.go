package nbt_test

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// resources counts this process's goroutines and open file descriptors.
func resources(t *testing.T) (goroutines, fds int) {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return runtime.NumGoroutine(), len(ents)
}

// checkNoLeaks fails the test unless the goroutines and file descriptors
// the code under test started have ended when the test ends. Goroutines
// that were told to stop (a closed socket, a cancelled context) take a
// moment to be scheduled and exit, so the counts are read until they
// settle, for at most five seconds.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	g0, f0 := resources(t)
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			g, f := resources(t)
			if g <= g0 && f <= f0 {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("leak: %d goroutines (was %d), %d file descriptors (was %d)\n%s",
					g, g0, f, f0, buf[:runtime.Stack(buf, true)])
				return
			}
			runtime.Gosched()
			time.Sleep(time.Millisecond) // let closed sockets' goroutines run
		}
	})
}
