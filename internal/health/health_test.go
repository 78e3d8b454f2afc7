package health

import (
	"testing"
	"time"
)

func TestTrackerCooldown(t *testing.T) {
	now := time.Unix(1000, 0)
	tr := NewTracker(func() time.Time { return now })

	if !tr.Available("a") {
		t.Fatal("unknown deployment should be available")
	}
	tr.Failure("a", 10*time.Second)
	if tr.Available("a") {
		t.Fatal("deployment in cooldown reported available")
	}
	if got := tr.CooldownLeft("a"); got != 10*time.Second {
		t.Fatalf("CooldownLeft = %v, want 10s", got)
	}
	tr.Failure("a", time.Second) // shorter cooldown must not shorten the longer one
	now = now.Add(5 * time.Second)
	if tr.Available("a") {
		t.Fatal("shorter failure shortened the cooldown")
	}
	if tr.Failures("a") != 2 {
		t.Fatalf("Failures = %d, want 2", tr.Failures("a"))
	}
	now = now.Add(5 * time.Second)
	if !tr.Available("a") {
		t.Fatal("cooldown did not end at its deadline")
	}
	tr.Failure("a", time.Minute)
	tr.Success("a")
	if !tr.Available("a") || tr.Failures("a") != 0 {
		t.Fatal("success did not clear cooldown and streak")
	}
	if !tr.Available("b") {
		t.Fatal("cooldown leaked to another deployment")
	}
}
