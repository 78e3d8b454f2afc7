//go:build !unix

package bench

// peakRSS is unknown on this platform.
func peakRSS() (int64, string) { return 0, "" }
