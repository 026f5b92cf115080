package chart

import (
	"errors"
	"fmt"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
)

// Bounds limit the work of one chart's lint and render, so that a template
// that loops forever or renders gigabytes fails its component instead of
// the machine.
type Bounds struct {
	// Timeout is how long linting and rendering one chart may take.
	Timeout time.Duration
	// Output is the most bytes one chart's rendered manifests may hold.
	Output int64
}

// DefaultBounds: a minute per chart (real charts lint and render in well
// under a second, CRD-heavy ones in a few) and 128 MiB of manifests (above
// the CRDs of any real chart; a chart's files are capped at 100 MiB).
var DefaultBounds = Bounds{Timeout: time.Minute, Output: 128 << 20}

// ErrBound is the error of a chart that passed one of its Bounds.
var ErrBound = errors.New("over a bound")

// maxItems is the longest list until, untilStep and seq may make.
const maxItems = 1 << 20

func (b Bounds) orDefault() Bounds {
	if b.Timeout <= 0 {
		b.Timeout = DefaultBounds.Timeout
	}
	if b.Output <= 0 {
		b.Output = DefaultBounds.Output
	}
	return b
}

// timeUp is the error of work that ran past the time limit.
func (b Bounds) timeUp(what string) error {
	return fmt.Errorf("%w: %s took longer than %s, the time limit for one chart (--chart-timeout)", ErrBound, what, b.Timeout)
}

// within runs fn and returns its result, or an error once the deadline
// passes. Go cannot stop a running template, so fn is left to finish on its
// own; the functions of guardFuncs make the usual runaway templates stop
// soon after the deadline. A panic in fn is returned as an error.
func within[T any](b Bounds, deadline time.Time, what string, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("%s: panic: %v", what, p)}
			}
		}()
		v, err := fn()
		done <- result{v, err}
	}()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case r := <-done:
		return r.v, r.err
	case <-t.C:
		var zero T
		return zero, b.timeUp(what)
	}
}

// sprig's functions that guardFuncs wrap, taken from its map once (the map
// is built anew on every call).
var (
	sprigFuncs = sprig.TxtFuncMap()
	until      = sprigFuncs["until"].(func(int) []int)
	untilStep  = sprigFuncs["untilStep"].(func(int, int, int) []int)
	seq        = sprigFuncs["seq"].(func(...int) string)
	repeat     = sprigFuncs["repeat"].(func(int, string) string)
)

// guardFuncs replace the template functions that make work out of a number
// (until, untilStep, seq, repeat): each refuses more than the bounds allow
// and fails once the deadline has passed, which stops nested loops.
func guardFuncs(b Bounds, deadline time.Time) template.FuncMap {
	check := func(name string, n int64) error {
		if time.Now().After(deadline) {
			return b.timeUp("rendering")
		}
		if n > maxItems {
			return fmt.Errorf("%w: %s of %d items, more than %d", ErrBound, name, n, maxItems)
		}
		return nil
	}
	abs := func(n int64) int64 {
		if n < 0 {
			return -n
		}
		return n
	}
	return template.FuncMap{
		"until": func(n int) ([]int, error) {
			if err := check("until", abs(int64(n))); err != nil {
				return nil, err
			}
			return until(n), nil
		},
		"untilStep": func(start, stop, step int) ([]int, error) {
			n := int64(0)
			if step != 0 {
				n = abs(int64(stop)-int64(start)) / abs(int64(step))
			}
			if err := check("untilStep", n); err != nil {
				return nil, err
			}
			return untilStep(start, stop, step), nil
		},
		"seq": func(params ...int) (string, error) {
			n := int64(0)
			switch len(params) {
			case 1:
				n = abs(int64(params[0]))
			case 2:
				n = abs(int64(params[1]) - int64(params[0]))
			case 3:
				if params[1] != 0 {
					n = abs(int64(params[2])-int64(params[0])) / abs(int64(params[1]))
				}
			}
			if err := check("seq", n); err != nil {
				return "", err
			}
			return seq(params...), nil
		},
		"repeat": func(count int, s string) (string, error) {
			if err := check("repeat", 0); err != nil {
				return "", err
			}
			if count > 0 && int64(count)*int64(len(s)) > b.Output {
				return "", fmt.Errorf("%w: repeat makes %d bytes, more than the %d a chart may render (--max-render-size)", ErrBound, int64(count)*int64(len(s)), b.Output)
			}
			return repeat(count, s), nil
		},
	}
}

// checkOutput fails when rendered manifests pass the output bound.
func (b Bounds) checkOutput(manifests map[string]string) error {
	return b.checkSize(renderedSize(manifests))
}

func renderedSize(manifests map[string]string) int64 {
	var n int64
	for _, m := range manifests {
		n += int64(len(m))
	}
	return n
}

func (b Bounds) checkSize(n int64) error {
	if n > b.Output {
		return fmt.Errorf("%w: the rendered manifests hold %d bytes, more than the %d a chart may render (--max-render-size)", ErrBound, n, b.Output)
	}
	return nil
}
