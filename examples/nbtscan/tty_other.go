//go:build !linux

package main

import "os"

// isTerminal reports whether f is a character device other than the null
// device: a terminal, most likely.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && f.Name() != os.DevNull
}
