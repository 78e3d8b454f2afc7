//go:build unix

package bench

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"syscall"
)

// peakRSS returns the process's peak resident set size in bytes and where
// it came from: VmHWM of /proc/self/status on Linux, else getrusage's
// ru_maxrss. 0 if neither is available.
func peakRSS() (int64, string) {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmHWM:"))
			if !ok {
				continue
			}
			f := bytes.Fields(rest) // "123456 kB"
			if len(f) == 2 && string(f[1]) == "kB" {
				if kb, err := strconv.ParseInt(string(f[0]), 10, 64); err == nil {
					return kb << 10, "VmHWM of /proc/self/status"
				}
			}
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, ""
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss), "getrusage ru_maxrss" // bytes there
	}
	return int64(ru.Maxrss) << 10, "getrusage ru_maxrss" // KiB elsewhere
}
