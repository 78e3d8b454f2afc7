package health

import (
	"math"
	"math/bits"
	"sync"
	"time"
)

// The TTFT quantile sketch: a ring of latSlots histograms of latSlotWidth
// each (two minutes), every histogram with 2^histSub linear buckets per
// power of two of microseconds from 2^histMinExp µs (1.024 ms) to
// 2^histMaxExp µs (134 s), plus one bucket below and one above.
const (
	latSlots     = 12
	latSlotWidth = int64(10 * time.Second)
	histSub      = 3
	histMinExp   = 10
	histMaxExp   = 27
	histBuckets  = 2 + (histMaxExp-histMinExp)<<histSub
)

// Latency summarizes a deployment's time to first token: the EWMA of all
// its samples (see the package doc) and quantiles of the Samples taken in
// the last two minutes. With Samples == 0 the quantiles are 0.
type Latency struct {
	EWMA          time.Duration
	P50, P95, P99 time.Duration
	Samples       int
}

type hist [histBuckets]uint32

// latency is one deployment's TTFT state.
type latency struct {
	mu sync.Mutex

	// EWMA: Σ wᵢ·xᵢ and Σ wᵢ with each weight decayed to last.
	sum, weight float64
	last        time.Time

	started bool  // head is set
	head    int64 // newest slot, unix ns / latSlotWidth
	slots   [latSlots]hist
	n       [latSlots]uint32 // samples per slot
	total   hist             // sum of the live slots
	count   uint32
}

// ObserveTTFT records a request to name whose first token came after d.
func (t *Tracker) ObserveTTFT(name string, d time.Duration) {
	l := t.get(name).latency()
	now := t.now()
	halfLife := time.Duration(t.halfLife.Load())
	l.mu.Lock()
	l.observe(now, max(d, 0), halfLife)
	l.mu.Unlock()
}

// TTFT returns name's time-to-first-token statistics; a deployment
// without samples has Samples 0 and zero durations.
func (t *Tracker) TTFT(name string) Latency {
	d := t.lookup(name)
	if d == nil {
		return Latency{}
	}
	l := d.lat.Load()
	if l == nil {
		return Latency{}
	}
	now := t.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.read(now)
}

func (d *deployment) latency() *latency {
	if l := d.lat.Load(); l != nil {
		return l
	}
	d.lat.CompareAndSwap(nil, new(latency))
	return d.lat.Load()
}

func (l *latency) observe(now time.Time, d, halfLife time.Duration) {
	if dt := now.Sub(l.last); l.weight > 0 && dt > 0 {
		f := math.Exp2(-float64(dt) / float64(halfLife))
		l.sum *= f
		l.weight *= f
	}
	if now.After(l.last) {
		l.last = now
	}
	l.sum += float64(d)
	l.weight++

	idx := floorDiv(now.UnixNano(), latSlotWidth)
	l.roll(idx)
	if idx <= l.head-latSlots {
		return // older than the window
	}
	s, b := ringSlot(idx, latSlots), bucketOf(d)
	l.slots[s][b]++
	l.n[s]++
	l.total[b]++
	l.count++
}

func (l *latency) read(now time.Time) Latency {
	var out Latency
	if l.weight > 0 {
		out.EWMA = time.Duration(math.Round(l.sum / l.weight))
	}
	l.roll(floorDiv(now.UnixNano(), latSlotWidth))
	out.Samples = int(l.count)
	out.P50, out.P95, out.P99 = l.total.quantiles(l.count)
	return out
}

// roll moves the head to idx, taking the slots that fall out of the
// window out of the total.
func (l *latency) roll(idx int64) {
	switch {
	case !l.started:
		l.started, l.head = true, idx
		return
	case idx <= l.head:
		return
	case idx-l.head >= latSlots:
		l.slots, l.n, l.total, l.count = [latSlots]hist{}, [latSlots]uint32{}, hist{}, 0
	default:
		for i := l.head + 1; i <= idx; i++ {
			s := ringSlot(i, latSlots)
			if l.n[s] == 0 {
				continue
			}
			for b, c := range &l.slots[s] {
				l.total[b] -= c
			}
			l.count -= l.n[s]
			l.slots[s], l.n[s] = hist{}, 0
		}
	}
	l.head = idx
}

// bucketOf returns the histogram bucket of d.
func bucketOf(d time.Duration) int {
	us := d.Microseconds()
	if us < 1<<histMinExp {
		return 0
	}
	e := bits.Len64(uint64(us)) - 1
	if e >= histMaxExp {
		return histBuckets - 1
	}
	sub := int(us>>(e-histSub)) & (1<<histSub - 1)
	return 1 + (e-histMinExp)<<histSub + sub
}

// bucketBounds returns bucket b's range [lo, hi) in microseconds; the
// overflow bucket has lo == hi.
func bucketBounds(b int) (lo, hi int64) {
	switch b {
	case 0:
		return 0, 1 << histMinExp
	case histBuckets - 1:
		return 1 << histMaxExp, 1 << histMaxExp
	}
	b--
	e := histMinExp + b>>histSub
	step := int64(1) << (e - histSub)
	lo = int64(1)<<e + int64(b&(1<<histSub-1))*step
	return lo, lo + step
}

// quantiles returns the 50th, 95th and 99th percentiles of the n samples
// in h: each the nearest-rank sample, placed within its bucket by
// interpolation.
func (h *hist) quantiles(n uint32) (p50, p95, p99 time.Duration) {
	if n == 0 {
		return 0, 0, 0
	}
	perMille := [3]uint64{500, 950, 990}
	var out [3]time.Duration
	rank := func(k int) uint32 { return uint32(max((perMille[k]*uint64(n)+999)/1000, 1)) }
	k, r, cum := 0, rank(0), uint32(0)
	for b, c := range h {
		for k < len(out) && r <= cum+c {
			out[k] = within(b, r-cum, c)
			if k++; k < len(out) {
				r = rank(k)
			}
		}
		if k == len(out) {
			break
		}
		cum += c
	}
	return out[0], out[1], out[2]
}

// within estimates the i-th (from 1) of the c samples in bucket b,
// assuming they are spread evenly over it.
func within(b int, i, c uint32) time.Duration {
	lo, hi := bucketBounds(b)
	us := float64(lo) + float64(hi-lo)*(float64(i)-0.5)/float64(c)
	return time.Duration(math.Round(us * float64(time.Microsecond)))
}
