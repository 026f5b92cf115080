package timing

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// Stages add up concurrent runs by stage and list them in flow order; a
// nil *Stages records nothing.
func TestStages(t *testing.T) {
	var none *Stages
	none.Since(Render, time.Now())
	if none.List() != nil {
		t.Fatal("a nil *Stages listed stages")
	}
	s := New()
	start := time.Now().Add(-time.Second)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { s.Since(Render, start) })
	}
	wg.Wait()
	s.Since(Load, start)
	s.Since("extra", start)
	list := s.List()
	if len(list) != 3 || list[0].Name != Load || list[1].Name != Render || list[2].Name != "extra" {
		t.Fatalf("stages %+v, want load, render, extra", list)
	}
	if list[1].Count != 4 || list[1].Time < 4*time.Second {
		t.Errorf("render %+v, want 4 runs of at least a second each", list[1])
	}
	var b bytes.Buffer
	Print(&b, list)
	if !strings.Contains(b.String(), "render") || !strings.Contains(b.String(), "66.") {
		t.Errorf("table:\n%s", b.String())
	}
}
