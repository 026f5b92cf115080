package chart

import (
	"testing"
	"time"

	"github.com/distgen/distgen/generator/chartdir"
)

// A file counts as settled, so that its stat may stand for its content,
// only when it was last changed well before the listing: 100 ms for a file
// system with fine times, a second more for one that keeps whole seconds;
// a file whose times the platform does not give never does.
func TestFingerprintSettled(t *testing.T) {
	now := time.Unix(1_000_000, 500_000_000)
	entry := func(changed time.Time, ok bool) []chartdir.Entry {
		ns := changed.UnixNano()
		return []chartdir.Entry{{Name: "Chart.yaml", Stat: chartdir.Stat{Size: 10, ModNs: ns, ChangeNs: ns, Inode: 1, Device: 1, Ok: ok}}}
	}
	for _, tc := range []struct {
		what    string
		changed time.Time
		ok      bool
		settled bool
	}{
		{"fine times, 1 s before", now.Add(-time.Second), true, true},
		{"fine times, 50 ms before", now.Add(-50 * time.Millisecond), true, false},
		{"whole seconds, 0.5 s before", time.Unix(1_000_000, 0), true, false},
		{"whole seconds, 1.5 s before", time.Unix(999_999, 0), true, true},
		{"times not given", now.Add(-time.Hour), false, false},
	} {
		if _, settled := fingerprint("/chart", entry(tc.changed, tc.ok), now); settled != tc.settled {
			t.Errorf("%s: settled %v, want %v", tc.what, settled, tc.settled)
		}
	}
	a, _ := fingerprint("/chart", entry(now.Add(-time.Hour), true), now)
	b, _ := fingerprint("/chart", entry(now.Add(-time.Hour+time.Nanosecond), true), now)
	if a == b {
		t.Error("a nanosecond's change of time left the fingerprint as it was")
	}
}
