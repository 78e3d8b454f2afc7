package health

import (
	"testing"
	"time"
)

func BenchmarkObserveTTFT(b *testing.B) {
	tr := NewTracker(nil)
	tr.ObserveTTFT("a", time.Second)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		tr.ObserveTTFT("a", time.Duration(i%5000)*time.Millisecond)
	}
}

func BenchmarkObserveTTFTParallel(b *testing.B) {
	tr := NewTracker(nil)
	tr.ObserveTTFT("a", time.Second)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			tr.ObserveTTFT("a", time.Duration(i%5000)*time.Millisecond)
		}
	})
}

func BenchmarkTTFT(b *testing.B) {
	tr := NewTracker(nil)
	for i := range 10000 {
		tr.ObserveTTFT("a", time.Duration(i)*time.Millisecond)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = tr.TTFT("a")
	}
}

func BenchmarkAcquireSuccess(b *testing.B) {
	tr := NewTracker(nil)
	tr.Success("a")
	b.ReportAllocs()
	for b.Loop() {
		p, ok := tr.Acquire("a")
		if !ok {
			b.Fatal("not admitted")
		}
		p.Success()
	}
}

func BenchmarkAcquireSuccessParallel(b *testing.B) {
	tr := NewTracker(nil)
	tr.Success("a")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, ok := tr.Acquire("a")
			if !ok {
				b.Fatal("not admitted")
			}
			p.Success()
		}
	})
}

func BenchmarkAvailable(b *testing.B) {
	tr := NewTracker(nil)
	tr.Success("a")
	b.ReportAllocs()
	for b.Loop() {
		_ = tr.Available("a")
	}
}
